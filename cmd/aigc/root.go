package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/train"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

// globalOptions are the flags every command takes, and where output goes.
type globalOptions struct {
	Device  string
	Seed    uint64
	Threads int
	Quiet   bool

	Out, Err io.Writer
	Terminal bool     // Out is a terminal: progress bars are drawn
	ErrTerm  bool     // Err is a terminal: eval's progress is a bar there
	Args     []string // the command line, for hints such as how to resume

	// The device chosen before any command runs (models compile for it when built): the
	// line to print when it is not what was asked for, or why none could be chosen.
	device     graph.Device
	deviceNote string
	deviceErr  error
	cpuWhy     string // why the plain aigc did not hand a GPU request to aigc-cuda
}

// maxThreads bounds --threads: more threads than this gain nothing on any machine and
// cost a goroutine and a stack each.
const maxThreads = 1024

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ error }

// exitInterrupted is the status of a run stopped by a signal, as shells report SIGINT.
const exitInterrupted = 130

// execute runs the command line and returns the process exit status.
func execute(ctx context.Context, args []string, out, errOut io.Writer) int {
	g := &globalOptions{Out: out, Err: errOut, Args: args}
	if f, ok := out.(*os.File); ok {
		g.Terminal = term.IsTerminal(int(f.Fd()))
	}
	if f, ok := errOut.(*os.File); ok {
		g.ErrTerm = term.IsTerminal(int(f.Fd()))
	}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	if dist.World().Size() > 1 {
		return leaveWorld(err, code, errOut)
	}
	dist.Stop()
	if err != nil && code != exitInterrupted {
		fmt.Fprintf(errOut, "aigc: %v\n", err)
	}
	return code
}

// exitCode is the status an error ends the process with.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, train.ErrInterrupted):
		return exitInterrupted
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

func newRootCmd(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "aigc",
		Short: "Train, sample and evaluate generative models (VAE, GAN, RNN, LSTM, Transformer)",
		Long: "aigc trains and samples the classic generative model families on real data,\n" +
			"on the CPU or an NVIDIA GPU, from one binary with its data built in.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.Threads < 0 || g.Threads > maxThreads {
				return usageError{fmt.Errorf("--threads must be between 0 (all cores) and %d (got %d)", maxThreads, g.Threads)}
			}
			if err := graph.SetMemoryBudget(); err != nil {
				return usageError{err}
			}
			if _, _, err := graph.ParseDevice(g.Device); err != nil {
				return usageError{err} // a bad --device fails before any work
			}
			graph.SetThreads(g.Threads)
			if err := g.handOff(); err != nil {
				return err
			}
			if err := g.joinWorld(cmd); err != nil { // after the hand-off: aigc-cuda joins itself
				return err
			}
			// The device is chosen now, as models compile for it; the note, or the error,
			// comes when a command computes (chooseDevice).
			g.device, g.deviceNote, g.deviceErr = graph.ChooseDevice(g.Device)
			if g.deviceNote != "" && g.cpuWhy != "" {
				g.deviceNote = fmt.Sprintf("aigc: --device %s: %s; running on the CPU", g.Device, g.cpuWhy)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Device, "device", "auto", "where to compute: auto (a GPU if there is one), cpu, cuda or cuda:N")
	pf.Uint64Var(&g.Seed, "seed", 1, "seed of every random choice (initialisation, shuffling, noise, sampling)")
	pf.IntVar(&g.Threads, "threads", 0, "CPU threads for computation (0: all cores)")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only results and errors")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
	})
	root.AddCommand(newTrainCmd(g), newSampleCmd(g), newEvalCmd(g), newBenchCmd(g),
		newExportCmd(g), newPlotCmd(g), newModelsCmd(g), newDevicesCmd(g), newVersionCmd(g), newDataCmd(g))
	root.RegisterFlagCompletionFunc("device", completeDevice)
	for _, c := range root.Commands() {
		completions(c)
		switch c.Name() {
		case "train", "sample", "eval", "bench", "export", "models":
			c.ValidArgsFunction = completeModel
		case "plot":
			c.ValidArgsFunction = completeRun
		}
	}
	return root
}

// exactArgs is cobra.ExactArgs with an error that counts as a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %s (see %s --help)", cmd.CommandPath(), what, cmd.CommandPath())}
		}
		return nil
	}
}

// chooseDevice resolves --device, printing the one line that says when the CPU is used
// instead of what was asked for.
func (g *globalOptions) chooseDevice() (graph.Device, error) {
	if g.deviceErr != nil {
		return "", g.deviceErr
	}
	if g.deviceNote != "" && !g.Quiet { // --quiet: the CPU it fell back to is no result
		fmt.Fprintln(g.Err, g.deviceNote)
	}
	g.deviceNote = ""
	return g.device, nil
}

// watchEvaluation shows a long evaluation's progress on stderr (stdout has the results,
// which --json keeps machine-readable), unless --quiet.
func (g *globalOptions) watchEvaluation(s datasets.Stream) datasets.Stream {
	if g.Quiet {
		return s
	}
	return train.WatchEvaluation(s, g.Err, g.ErrTerm)
}

// say prints a line unless --quiet.
func (g *globalOptions) say(format string, a ...any) {
	if !g.Quiet {
		fmt.Fprintf(g.Out, format+"\n", a...)
	}
}
