package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/train"
)

// max_iters is what nanoGPT means: that many optimiser steps, whatever eval_interval is,
// with an evaluation at the end.
func TestGPTMaxItersExact(t *testing.T) {
	dir := t.TempDir()
	args := []string{"train", "gpt", "--run", dir, "--data", smallText, "--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=16",
		"--set", "block_size=16", "--set", "batch_size=4", "--set", "eval_iters=2", "--set", "max_iters=20", "--set", "log_every=5",
		"--progress-every", "0s"}
	r := aigc(t, args...)
	mustSucceed(t, r)
	if step := checkpointStep(t, filepath.Join(dir, train.LatestFile)); step != 20 {
		t.Fatalf("latest at step %d", step)
	}
	for _, want := range []string{"iter 5/20  loss ", "iter 20/20  train loss ", ": iter 20/20, eval loss "} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("no %q in:\n%s", want, r.stdout)
		}
	}
	if ev := lastEval(t, dir); ev["loss"] == 0 {
		t.Fatal("no evaluation")
	}
	if m, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); strings.Count(string(m), `"kind":"eval"`) != 1 {
		t.Fatalf("evaluations: %s", m)
	}
}

// --steps is honoured exactly, and the summary says so.
func TestStepsSummary(t *testing.T) {
	r := aigc(t, append([]string{"train", "vae", "--run", t.TempDir(), "--steps", "3"}, tiny...)...)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, ": step 3 of 3 (--steps 3), epoch 0.188 of 10, eval loss ") {
		t.Fatalf("summary:\n%s", r.stdout)
	}
}

func checkpointStep(t *testing.T, path string) int {
	t.Helper()
	meta, err := checkpoints.ReadMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	return meta.Step
}

// Gradient accumulation: k batches of B per step train as one batch of k·B, to float32
// rounding, for every family without batch normalisation (whose statistics are a batch's
// own, in aigc as in PyTorch). Every tensor of the checkpoint is compared: weights, Adam's
// moments and the moving average, each value to 1e-4 of itself or 1e-5 absolutely: a
// parameter whose gradient is zero but for rounding (the bias of attention's keys, to
// which softmax is blind) takes Adam steps on that rounding, the same size either way but
// not the same noise.
func TestGradientAccumulationIsTheLargeBatch(t *testing.T) {
	cases := []struct {
		model string
		args  []string
		batch int
	}{
		{"vae", []string{"--data", smallData, "--set", "hidden=16", "--set", "latent=4"}, 16},
		{"gan", []string{"--data", smallData, "--set", "hidden=16", "--set", "dropout=0", "--set", "eval_samples=20"}, 16},
		{"rnn", tinyLM, 4},
		{"lstm", append([]string{"--set", "dropout=0"}, tinyLM...), 4},
		{"gpt", []string{"--data", smallText, "--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=16", "--set", "block_size=16",
			"--set", "eval_iters=2", "--set", "max_iters=20"}, 4},
		{"transformer", append([]string{"--set", "dropout=0"}, tinySeq...), 8},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			large, small := t.TempDir(), t.TempDir()
			train := func(dir string, batch, k int) {
				args := append([]string{"train", c.model, "--run", dir, "--steps", "4", "-q"}, c.args...)
				args = append(args, "--set", fmt.Sprintf("batch_size=%d", batch), "--set", fmt.Sprintf("grad_accum_steps=%d", k))
				mustSucceed(t, aigc(t, args...))
			}
			train(large, 2*c.batch, 1)
			train(small, c.batch, 2)
			a, b := tensors(t, filepath.Join(large, "latest.safetensors")), tensors(t, filepath.Join(small, "latest.safetensors"))
			if len(a) == 0 || len(a) != len(b) {
				t.Fatalf("%d and %d tensors", len(a), len(b))
			}
			worst, where := 0.0, ""
			for name, x := range a {
				y := b[name]
				for i := range x {
					d := math.Abs(float64(x[i] - y[i]))
					if d > 1e-5+1e-4*math.Abs(float64(x[i])) {
						t.Fatalf("%s[%d]: %g with the large batch, %g accumulated", name, i, x[i], y[i])
					}
					if d > worst {
						worst, where = d, fmt.Sprintf("%s[%d]: %g vs %g", name, i, x[i], y[i])
					}
				}
			}
			t.Logf("largest difference %.3g (%s)", worst, where)
		})
	}
}

// tensors reads every tensor of a checkpoint.
func tensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	all, err := checkpoints.ReadTensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return all
}
