package train

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aigc-go/aigc/datasets"
)

// Without a terminal a run prints a line every log_every steps with the loss, the rate and
// the ETA of the steps this session will take (--steps counted), and a line per evaluation
// with the training loss since the last one beside the evaluation's.
func TestProgressLines(t *testing.T) {
	var out bytes.Buffer
	o := newRun(t, t.TempDir()) // 10 steps an epoch, 3 epochs, log_every 2
	o.Out, o.MaxSteps = &out, 15
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	step := regexp.MustCompile(`^epoch [12]/3  step (\d+)/15  loss [0-9.]+ \(bce [0-9.]+, kl [0-9.]+\)  [0-9,]+ samples/s  ETA \d+s$`)
	eval := regexp.MustCompile(`^epoch [12]/3  step (10|15)/15  train loss [0-9.]+  eval loss [0-9.]+ \(bce [0-9.]+, kl [0-9.]+\)  [0-9.]+s$`)
	var steps, evals []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		switch {
		case step.MatchString(line):
			steps = append(steps, step.FindStringSubmatch(line)[1])
		case eval.MatchString(line):
			evals = append(evals, eval.FindStringSubmatch(line)[1])
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if strings.Join(steps, " ") != "2 4 6 8 10 12 14 15" || strings.Join(evals, " ") != "10 15" {
		t.Fatalf("step lines at %v, evaluation lines at %v:\n%s", steps, evals, out.String())
	}
}

// A run counted in iterations shows them, nanoGPT's way.
func TestProgressIterations(t *testing.T) {
	p := &progress{iterative: true, epochs: 8, spe: 250}
	p.begin(0, 20)
	if got := p.where(9); got != "iter 9/20" {
		t.Fatal(got)
	}
	p = &progress{epochs: 10, spe: 469}
	p.begin(100, 4690)
	if got := p.where(938); got != "epoch 2/10  step 938/4690" { // the last step of epoch 2
		t.Fatal(got)
	}
	if got := p.where(939); got != "epoch 3/10  step 939/4690" {
		t.Fatal(got)
	}
	if got := p.where(4690); got != "epoch 10/10  step 4690/4690" {
		t.Fatal(got)
	}
}

// An evaluation's stream reports each batch taken, and lines come only once it has taken
// longer than the interval.
func TestEvaluationProgress(t *testing.T) {
	o := newRun(t, t.TempDir())
	var done []int
	w := watched{o.Eval, func(d, total int, since time.Time) {
		if total != 4 { // 100 test images in batches of 32
			t.Errorf("total %d", total)
		}
		done = append(done, d)
	}}
	n := 0
	for b := range w.Epoch(context.Background(), 0, 0) {
		n++
		b.Release()
	}
	if n != 4 || len(done) != 4 || done[3] != 4 {
		t.Fatalf("%d batches, reports %v", n, done)
	}

	// A token stream's characters per token (bits per character) show through.
	ts, err := datasets.NewTokenStream(make([]int32, 100), "zeros", datasets.TokenStreamOptions{BatchSize: 2, Window: 4,
		Order: datasets.Sweep, CharsPerToken: 3.5})
	if err != nil {
		t.Fatal(err)
	}
	if c := (watched{ts, nil}).CharsPerToken(); c != 3.5 {
		t.Fatalf("chars per token %v", c)
	}

	var out bytes.Buffer
	p := &progress{out: &out, evalEvery: time.Hour}
	p.evaluating(2, 4, time.Now())
	if out.Len() != 0 {
		t.Fatalf("a short evaluation printed %q", out.String())
	}
	p.evalEvery = 0
	p.evaluating(2, 4, time.Now().Add(-time.Second))
	if !strings.HasPrefix(out.String(), "evaluating: 2/4 batches, ETA ") {
		t.Fatalf("printed %q", out.String())
	}
}
