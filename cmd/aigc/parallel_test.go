package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/train"
)

// mpiCommand is `mpirun -np n aigc args...` with this test binary as aigc (see TestMain),
// on this machine's cores however few (--oversubscribe), as root too. Without Open MPI
// the test is skipped: the plain aigc needs none.
func mpiCommand(t *testing.T, ctx context.Context, n int, args ...string) *exec.Cmd {
	t.Helper()
	if !dist.Loadable {
		t.Skip("built without cgo: no MPI")
	}
	mpirun, err := exec.LookPath("mpirun")
	if err != nil && os.Getenv("AIGC_REQUIRE_MPI") == "1" { // CI installed it: it must be there
		t.Fatal("no mpirun, and AIGC_REQUIRE_MPI=1: install openmpi-bin libopenmpi-dev")
	}
	if err != nil {
		t.Skip("no mpirun: Open MPI is not installed (Debian: openmpi-bin libopenmpi-dev)")
	}
	full := append([]string{"-np", fmt.Sprint(n), "--oversubscribe", "-x", childEnv + "=1", os.Args[0]}, args...)
	cmd := exec.CommandContext(ctx, mpirun, full...)
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", childEnv+"=1")
	return cmd
}

// mpi runs aigc on n ranks and returns its exit status and output.
func mpi(t *testing.T, n int, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := mpiCommand(t, ctx, n, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errOut.String()}
}

// sameRun compares two runs: their losses, line by line of metrics.jsonl (the evaluations
// both made), to relative 1e-5, and every tensor of their latest checkpoints (weights,
// Adam's moments, the moving average) to relative 1e-5 of the tensor's largest value:
// float32 sums taken in another order, and nothing else, may tell them apart.
func sameRun(t *testing.T, a, b string) {
	t.Helper()
	la, lb := sharedLines(t, a, b), sharedLines(t, b, a)
	if len(la) == 0 || len(la) != len(lb) {
		t.Fatalf("%d and %d lines of metrics", len(la), len(lb))
	}
	for i := range la {
		ma, mb := la[i].Model(), lb[i].Model()
		if la[i].Kind != lb[i].Kind || la[i].Step != lb[i].Step || len(ma) != len(mb) {
			t.Fatalf("line %d: %+v and %+v", i+1, la[i], lb[i])
		}
		for j := range ma {
			if d := math.Abs(ma[j].Value - mb[j].Value); d > 1e-5*math.Abs(ma[j].Value)+1e-9 {
				t.Fatalf("%s %s at step %d: %v and %v", la[i].Kind, ma[j].Name, la[i].Step, ma[j].Value, mb[j].Value)
			}
		}
	}
	ta, tb := tensors(t, filepath.Join(a, train.LatestFile)), tensors(t, filepath.Join(b, train.LatestFile))
	if len(ta) != len(tb) {
		t.Fatalf("%d and %d tensors", len(ta), len(tb))
	}
	worst := 0.0
	for name, x := range ta {
		y := tb[name]
		scale := 0.0
		for _, v := range x {
			scale = max(scale, math.Abs(float64(v)))
		}
		for i := range x {
			d := math.Abs(float64(x[i] - y[i]))
			if d > 1e-5*scale {
				t.Fatalf("%s[%d]: %v and %v (the tensor's largest value %v)", name, i, x[i], y[i], scale)
			}
			worst = max(worst, d/scale)
		}
	}
	t.Logf("%d tensors; the largest difference is %.2g of its tensor's largest value", len(ta), worst)
}

// sharedLines are the lines of run a's metrics that b has too: every training line, and
// the evaluations at steps both evaluated (a run stopped by --steps evaluates there).
func sharedLines(t *testing.T, a, b string) []train.Line {
	t.Helper()
	la, err := train.ReadMetrics(filepath.Join(a, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := train.ReadMetrics(filepath.Join(b, train.MetricsFile))
	evals := map[int]bool{}
	for _, l := range lb {
		if l.Kind == "eval" {
			evals[l.Step] = true
		}
	}
	var out []train.Line
	for _, l := range la {
		if l.Kind == "train" || evals[l.Step] {
			out = append(out, l)
		}
	}
	return out
}

// 2 processes of batch B train as 1 process of batch 2B (the same seed, so the same data
// order and noise), for 50 steps: the same losses and parameters to float32 reduction
// order.
func TestDataParallelIsTheLargeBatch(t *testing.T) {
	cases := []struct {
		model string
		args  []string
		batch int
	}{
		{"vae", []string{"--data", smallData, "--set", "hidden=16", "--set", "latent=4", "--set", "log_every=5"}, 16},
		{"gpt", []string{"--data", smallText, "--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=16", "--set", "block_size=16",
			"--set", "eval_iters=2", "--set", "max_iters=50", "--set", "eval_interval=25", "--set", "log_every=5"}, 4},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			one, two := t.TempDir(), t.TempDir()
			args := append([]string{"train", c.model, "--steps", "50", "-q"}, c.args...)
			mustSucceed(t, aigc(t, append(args, "--run", one, "--set", fmt.Sprintf("batch_size=%d", 2*c.batch))...))
			r := mpi(t, 2, append(args, "--run", two, "--set", fmt.Sprintf("batch_size=%d", c.batch))...)
			mustSucceed(t, r)
			sameRun(t, one, two)
			if strings.Count(r.stdout, "(--steps 50)") != 1 {
				t.Fatalf("stdout (rank 0 alone prints):\n%s", r.stdout)
			}
		})
	}
}

// A data-parallel run resumes exactly on as many processes, or on one with the same global
// batch (grad_accum_steps), and refuses another global batch in one line.
func TestDataParallelResumes(t *testing.T) {
	straight, stopped := t.TempDir(), t.TempDir()
	args := append([]string{"train", "vae", "-q", "--set", "log_every=5", "--set", "hidden=16", "--set", "latent=4",
		"--set", "batch_size=16"}, "--data", smallData)
	mustSucceed(t, mpi(t, 2, append(args, "--run", straight, "--steps", "40")...))
	mustSucceed(t, mpi(t, 2, append(args, "--run", stopped, "--steps", "20")...))
	if step := checkpointStep(t, filepath.Join(stopped, train.LatestFile)); step != 20 {
		t.Fatalf("stopped at %d", step)
	}
	meta, _ := checkpoints.ReadMeta(filepath.Join(stopped, train.LatestFile))
	if meta.Extra["world_size"] != "2" || meta.Extra["global_batch"] != "32" {
		t.Fatalf("recorded %q processes, global batch %q", meta.Extra["world_size"], meta.Extra["global_batch"])
	}
	accum := t.TempDir()
	copyDir(t, stopped, accum)

	r := aigc(t, append(args, "--run", stopped, "--steps", "30")...)
	if r.code != 1 || !strings.Contains(r.stderr, "was trained with a global batch of 32 (on 2 processes), this run's is 16 (1 process of batch_size=16") {
		t.Fatalf("one process, another global batch: exit %d, %q", r.code, r.stderr)
	}
	mustSucceed(t, mpi(t, 2, append(args, "--run", stopped, "--steps", "40")...))
	sameRun(t, straight, stopped)
	// One process with grad_accum_steps=2 takes the same steps.
	mustSucceed(t, aigc(t, append(args, "--run", accum, "--steps", "40", "--set", "grad_accum_steps=2")...))
	sameRun(t, straight, accum)
}

// A rank killed mid-run: the other stops, non-zero, with a line saying why (its watch of
// the collective it waits in; how soon is logged, not asserted) and mpirun names the
// rank; the checkpoint is whole and the run resumes.
func TestKilledRank(t *testing.T) {
	run := t.TempDir()
	args := append([]string{"train", "vae", "--run", run, "--set", "epochs=1000", "--save-every", "3", "--progress-every", "0s"}, tiny...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := mpiCommand(t, ctx, 2, args...)
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(time.Minute); pid == 0; time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`rank 1 pid (\d+)`).FindStringSubmatch(out.String()); m != nil && fileExists(filepath.Join(run, train.LatestFile)) {
			fmt.Sscan(m[1], &pid)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rank 1, or no checkpoint:\n%s\n%s", out.String(), errOut.String())
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	killed := time.Now()
	err := cmd.Wait()
	took := time.Since(killed)
	if err == nil {
		t.Fatal("mpirun succeeded with a rank killed")
	}
	if !strings.Contains(errOut.String(), "rank 1") || !strings.Contains(errOut.String(), "aigc: rank 0: stopped while waiting for the other ranks") {
		t.Fatalf("stderr:\n%s", errOut.String())
	}
	t.Logf("stopped %v after the kill", took.Round(time.Millisecond))
	step := checkpointStep(t, filepath.Join(run, train.LatestFile)) // whole, or this fails
	r := mpi(t, 2, append(args[:len(args):len(args)], "--steps", fmt.Sprint(step+2), "-q")...)
	mustSucceed(t, r)
	if got := checkpointStep(t, filepath.Join(run, train.LatestFile)); got != step+2 {
		t.Fatalf("resumed to step %d, want %d", got, step+2)
	}
}

// Commands other than train and bench are one process's work.
func TestOneProcessCommandsUnderMPI(t *testing.T) {
	r := mpi(t, 2, "sample", "vae", "--run", t.TempDir())
	if r.code == 0 || !strings.Contains(r.stderr, "aigc sample is one process's work: run it without mpirun") {
		t.Fatalf("exit %d, %q", r.code, r.stderr)
	}
}

// syncBuffer is a bytes.Buffer a process writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
