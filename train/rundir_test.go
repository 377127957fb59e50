package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/models"
)

// evalHook replaces a model's evaluation loss from the given evaluation on (1-based).
type evalHook struct {
	models.Model
	evals int
	from  int
	loss  float64
}

func (h *evalHook) Evaluate(ctx context.Context, s datasets.Stream, seed uint64) (models.Metrics, error) {
	ms, err := h.Model.Evaluate(ctx, s, seed)
	h.evals++
	if err == nil && h.evals >= h.from {
		ms[0].Value = h.loss
	}
	return ms, err
}

func latestStep(t *testing.T, dir string) int {
	t.Helper()
	meta, err := checkpoints.ReadMeta(filepath.Join(dir, LatestFile))
	if err != nil {
		t.Fatal(err)
	}
	return meta.Step
}

// An evaluation that explodes without becoming NaN, or is non-finite, stops the run and
// leaves the last good checkpoint as it was.
func TestDivergingEvaluationStops(t *testing.T) {
	cases := []struct {
		name string
		loss float64
		sets []string
		want string
	}{
		{"exploding", 3e33, nil, "is over diverge_factor=10000 times the first training loss"},
		{"infinite", math.Inf(1), nil, "the evaluation's loss is +Inf"},
		{"NaN", math.NaN(), nil, "the evaluation's loss is NaN"},
		{"above the ceiling", 5000, []string{"diverge_above=1000"}, "is over diverge_above=1000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			o := newRun(t, dir, c.sets...)
			o.Model = &evalHook{Model: o.Model, from: 2, loss: c.loss}
			_, err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "at step 20 (epoch 2)") ||
				!strings.Contains(err.Error(), "(step 10)") {
				t.Fatalf("got %v", err)
			}
			if s := latestStep(t, dir); s != 10 {
				t.Fatalf("latest checkpoint moved to step %d", s)
			}
		})
	}
	// Off, the same loss trains on.
	o := newRun(t, t.TempDir(), "diverge_factor=0")
	o.Model = &evalHook{Model: o.Model, from: 2, loss: 3e33}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatalf("diverge_factor=0: %v", err)
	}
}

// The scale of the divergence check survives a resume: it is the first training loss of
// the run, not of the session.
func TestFirstLossSurvivesResume(t *testing.T) {
	dir := t.TempDir()
	trainFor(t, dir, 10)
	f, _ := checkpoints.Read(filepath.Join(dir, LatestFile))
	meta, _ := f.DecodeMeta()
	first := parseFloat(meta.Extra[firstLossKey], 0)
	if !(first > 100) { // a VAE's first loss per image is hundreds of nats
		t.Fatalf("first_loss %q", meta.Extra[firstLossKey])
	}
	o := newRun(t, dir)
	o.Model = &evalHook{Model: o.Model, from: 1, loss: first * 2e4}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "diverge_factor") {
		t.Fatalf("got %v", err)
	}
}

// --fresh loses nothing until the new run has saved: a fresh run that diverges at once
// leaves the old run in RUN/previous, and a plain resume brings it back.
func TestFreshSetsTheOldRunAside(t *testing.T) {
	dir := t.TempDir()
	trainFor(t, dir, 10)
	o := newRun(t, dir)
	o.Fresh = true
	o.Model = &hook{Model: o.Model, nanAfter: 1}
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "kept in "+filepath.Join(dir, PreviousDir)) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LatestFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed fresh run left %s: %v", LatestFile, err)
	}
	if s := latestStep(t, filepath.Join(dir, PreviousDir)); s != 10 {
		t.Fatalf("previous/latest at step %d", s)
	}

	// A second failing --fresh keeps the same old run aside.
	o = newRun(t, dir)
	o.Fresh = true
	o.Model = &hook{Model: o.Model, nanAfter: 1}
	if _, err := Run(context.Background(), o); err == nil {
		t.Fatal("NaN run succeeded")
	}
	if s := latestStep(t, filepath.Join(dir, PreviousDir)); s != 10 {
		t.Fatalf("previous/latest at step %d after a second failed --fresh", s)
	}

	var out bytes.Buffer
	o = newRun(t, dir)
	o.Out, o.MaxSteps = &out, 12
	res, err := Run(context.Background(), o)
	if err != nil || !res.Resumed || res.Step != 12 || !strings.Contains(out.String(), "restored the run that --fresh set aside") {
		t.Fatalf("resume after a failed --fresh: %v %+v\n%s", err, res, out.String())
	}

	// A fresh run that saves removes what it set aside.
	o = newRun(t, dir)
	o.Fresh, o.MaxSteps = true, 3
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, PreviousDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("previous/ still there after the fresh run saved: %v", err)
	}
	if s := latestStep(t, dir); s != 3 {
		t.Fatalf("latest at step %d", s)
	}
}

// A second process training in the same run directory stops at once, naming the first.
func TestRunDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	lock, err := LockRunDir(dir, "aigc train vae --run "+dir)
	if err != nil {
		t.Fatal(err)
	}
	o := newRun(t, dir)
	_, err = Run(context.Background(), o)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "(aigc train vae --run "+dir+")") ||
		!strings.Contains(err.Error(), "process ") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the locked-out run wrote its config")
	}
	lock.Unlock()
	trainFor(t, dir, 2)
}

// Temporary files of saves that were killed are removed when a run opens its directory;
// other files are not touched.
func TestStaleTemporaryFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "samples"), 0o755)
	stale := []string{".latest.safetensors.tmp-1x2y", ".best.safetensors.tmp-zz", ".metrics.jsonl.tmp-q", filepath.Join("samples", ".epoch_003.png.tmp-7")}
	kept := []string{".notes.txt.tmp-1", "latest.safetensors.tmp-1", "mine.txt"}
	for _, n := range append(stale, kept...) {
		os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644)
	}
	var out bytes.Buffer
	o := newRun(t, dir)
	o.Out, o.MaxSteps = &out, 1
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed", n)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed", n)
		}
	}
	if !strings.Contains(out.String(), "removed 4 temporary files (28 bytes)") {
		t.Fatalf("output:\n%s", out.String())
	}
}
