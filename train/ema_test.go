package train

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aigc-go/aigc/models"
)

// averaged opens a run's latest checkpoint as `aigc sample` and `aigc eval` do, which
// loads the averaged weights, and returns them.
func averaged(t *testing.T, dir string) [][]float32 {
	t.Helper()
	l, err := models.Open(filepath.Join(dir, LatestFile), "vae")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Model.Close()
	return params(l.Model)
}

func differ(a, b [][]float32) bool {
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return true
			}
		}
	}
	return false
}

func TestAverageResumesExactly(t *testing.T) {
	straight, _ := trainFor(t, t.TempDir(), 14, "ema=0.9")
	want := averaged(t, straight.RunDir)
	if !differ(want, params(straight.Model)) {
		t.Fatal("the checkpoint's averaged weights are the trained ones")
	}

	dir := t.TempDir()
	trainFor(t, dir, 7, "ema=0.9")
	second, _ := trainFor(t, dir, 14, "ema=0.9")
	sameParams(t, params(straight.Model), params(second.Model))
	sameParams(t, want, averaged(t, dir))
}

func TestEvaluationUsesAverage(t *testing.T) {
	dir := t.TempDir()
	o := newRun(t, dir, "ema=0.5", "epochs=1")
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	trained, err := o.Model.Evaluate(context.Background(), o.Eval, o.Seed)
	if err != nil {
		t.Fatal(err)
	}
	l, err := models.Open(filepath.Join(dir, LatestFile), "vae")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Model.Close()
	avg, err := l.Model.Evaluate(context.Background(), o.Eval, o.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Eval[0].Value != avg[0].Value || avg[0].Value == trained[0].Value {
		t.Fatalf("run evaluated %v; averaged weights give %v, trained ones %v", res.Eval[0].Value, avg[0].Value, trained[0].Value)
	}
}

func TestResumeStartsAverageWhenCheckpointHasNone(t *testing.T) {
	dir := t.TempDir()
	trainFor(t, dir, 7, "ema=0")
	second, res := trainFor(t, dir, 14, "ema=0.9")
	if !res.Resumed {
		t.Fatal("the run with ema turned on did not resume")
	}
	if !differ(averaged(t, dir), params(second.Model)) {
		t.Fatal("no averaged weights after resuming with ema on")
	}
}
