package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/train"
)

// Data-parallel training: `mpirun -np N aigc train MODEL` trains one model on N processes
// (see dist and train/parallel.go). Here: joining the MPI job, each rank's threads, and
// what each rank prints.

// parallelCommands run on every rank of an MPI job; every other command is one process's
// work (several would write the same files).
var parallelCommands = map[string]bool{"train": true, "bench": true, "devices": true}

// joinWorld joins the MPI job the process was launched in, for a command that runs on
// every rank. A rank other than 0 prints only its errors, and shares its machine's cores
// with the ranks beside it unless --threads says otherwise.
func (g *globalOptions) joinWorld(cmd *cobra.Command) error {
	if !dist.Launched() {
		return nil
	}
	if !parallelCommands[cmd.Name()] {
		if n := os.Getenv("OMPI_COMM_WORLD_SIZE"); n != "" && n != "1" {
			return usageError{fmt.Errorf("aigc %s is one process's work: run it without mpirun (mpirun is for aigc train and bench)", cmd.Name())}
		}
		return nil
	}
	c, err := dist.Start()
	if err != nil {
		return err
	}
	if c.Rank() != 0 && cmd.Name() != "devices" {
		g.Quiet, g.Out = true, io.Discard
	}
	g.Terminal = false // mpirun hands rank 0 a pseudo-terminal even into a pipe: lines, not a bar
	if g.Threads == 0 && c.LocalSize() > 1 {
		graph.SetThreads(max(1, runtime.NumCPU()/c.LocalSize()))
	}
	if c.Size() > 1 && g.Device == "cuda" { // one GPU per rank of a machine
		g.Device = "cuda:" + strconv.Itoa(c.LocalRank())
	}
	return nil
}

// shard is this process's part of each global batch.
func (g *globalOptions) shard() datasets.Shard {
	c := dist.World()
	return datasets.Shard{Rank: c.Rank(), Ranks: c.Size()}
}

// leaveWorld ends the command on every rank of a data-parallel run: after an error every rank reached together
// (an interrupt, divergence, a refused resume) the lead alone reports it and all leave
// MPI in order; an error of this rank alone is reported with its rank and stops the whole
// job, since the other ranks would wait for this one forever. It returns the exit status.
func leaveWorld(err error, code int, errOut io.Writer) int {
	c := dist.World()
	if err != nil && !train.IsAgreed(err) {
		fmt.Fprintf(errOut, "aigc: rank %d: %v\n", c.Rank(), err)
		c.Abort(code)
	}
	if err != nil && c.Rank() == 0 && code != exitInterrupted { // train told how to resume
		fmt.Fprintf(errOut, "aigc: %v\n", err)
	}
	if err := dist.Stop(); err != nil && code == 0 {
		fmt.Fprintf(errOut, "aigc: rank %d: %v\n", c.Rank(), err)
		return 1
	}
	return code
}

// announceRanks prints, on the lead, the ranks training together and their processes
// (the IDs are summed into each rank's place, the one collective that gathers them).
func announceRanks(g *globalOptions) error {
	c := dist.World()
	if c.Size() == 1 {
		return nil
	}
	pids := make([]float64, c.Size())
	pids[c.Rank()] = float64(os.Getpid())
	if err := c.AllReduce(pids); err != nil {
		return err
	}
	var list []string
	for r, p := range pids {
		list = append(list, fmt.Sprintf("rank %d pid %d", r, int(p)))
	}
	g.say("data-parallel training on %d processes (%s); rank 0 writes the run", c.Size(), strings.Join(list, ", "))
	return nil
}
