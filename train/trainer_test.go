package train

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
)

// subset returns the first n images of a set.
func subset(im *datasets.Images, n int) *datasets.Images {
	px := im.H * im.W
	out := &datasets.Images{N: n, H: im.H, W: im.W, Pixels: im.Pixels[:n*px], Source: im.Source}
	if im.Labels != nil {
		out.Labels = im.Labels[:n]
	}
	return out
}

// hook wraps a model to act at a given step: cancel the run's context, or report NaN.
type hook struct {
	models.Model
	steps    int
	at       int
	cancel   context.CancelFunc
	nanAfter int
}

func (h *hook) TrainStep(b []*datasets.Batch, r *rng.RNG) (models.Metrics, error) {
	ms, err := h.Model.TrainStep(b, r)
	h.steps++
	if h.steps == h.at && h.cancel != nil {
		h.cancel()
	}
	if h.nanAfter > 0 && h.steps > h.nanAfter {
		ms[0].Value = math.NaN()
	}
	return ms, err
}

// newRun builds a tiny VAE run on 320 training and 100 test images: 10 steps per epoch.
func newRun(t *testing.T, dir string, sets ...string) Options {
	t.Helper()
	set, err := datasets.LoadImages("")
	if err != nil {
		t.Fatal(err)
	}
	fam, err := models.Lookup("vae")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fam.NewConfig()
	base := []string{"hidden=16", "latent=3", "batch_size=32", "epochs=3", "log_every=2"}
	if err := configs.Load(cfg, "vae", "", append(base, sets...)); err != nil {
		t.Fatal(err)
	}
	const seed = 7
	r := rng.New(seed)
	env := models.Env{ImageH: 28, ImageW: 28}
	m, err := fam.Build(cfg, env, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	bs := cfg.TrainConfig().BatchSize
	tr, err := datasets.NewImageStream(subset(set.Train, 320), datasets.ImageStreamOptions{BatchSize: bs, Shuffle: true, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := datasets.NewImageStream(subset(set.Test, 100), datasets.ImageStreamOptions{BatchSize: bs})
	if err != nil {
		t.Fatal(err)
	}
	return Options{Family: fam, Config: cfg, Env: env, Model: m, Train: tr, Eval: ev, RNG: r, Seed: seed,
		RunDir: dir, Out: io.Discard, Version: "test"}
}

func params(m models.Model) [][]float32 {
	var out [][]float32
	for _, p := range m.Params().All() {
		out = append(out, slices.Clone(p.Data()))
	}
	return out
}

func sameParams(t *testing.T, a, b [][]float32) {
	t.Helper()
	for i := range a {
		for j := range a[i] {
			if d := math.Abs(float64(a[i][j] - b[i][j])); d > 1e-6 {
				t.Fatalf("parameter %d differs at %d: %v vs %v", i, j, a[i][j], b[i][j])
			}
		}
	}
}

// trainFor runs newRun(dir, sets...) until `steps` optimiser steps are done in all,
// resuming what dir holds.
func trainFor(t *testing.T, dir string, steps int, sets ...string) (Options, *Result) {
	t.Helper()
	o := newRun(t, dir, sets...)
	o.MaxSteps = steps
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return o, res
}

func TestResumeIsExact(t *testing.T) {
	// 2K steps straight...
	straight, _ := trainFor(t, t.TempDir(), 14)
	want := params(straight.Model)

	// ...equal K steps, then a new process (fresh model, fresh RNG) resuming for K more.
	dir := t.TempDir()
	trainFor(t, dir, 7)
	second, res := trainFor(t, dir, 14)
	if !res.Resumed || res.Step != 14 {
		t.Fatalf("second run: resumed=%v step=%d", res.Resumed, res.Step)
	}
	sameParams(t, want, params(second.Model))
}

func TestInterruptSavesAndResumes(t *testing.T) {
	full := newRun(t, t.TempDir())
	if _, err := Run(context.Background(), full); err != nil {
		t.Fatal(err)
	}
	want := params(full.Model)

	dir := t.TempDir()
	o := newRun(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.Model = &hook{Model: o.Model, at: 13, cancel: cancel}
	res, err := Run(ctx, o)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v, want ErrInterrupted", err)
	}
	if res.Step != 13 {
		t.Fatalf("stopped at step %d, want 13 (finish the current step, then stop)", res.Step)
	}
	f, err := checkpoints.Read(filepath.Join(dir, LatestFile))
	if err != nil {
		t.Fatal(err)
	}
	if meta, _ := f.DecodeMeta(); meta.Step != 13 {
		t.Fatalf("latest checkpoint at step %d, want 13", meta.Step)
	}

	again := newRun(t, dir)
	if _, err := Run(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	sameParams(t, want, params(again.Model))

	// The metrics log reads as one uninterrupted run: each step logged once.
	data, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"kind":"train","step":12,`); n != 1 {
		t.Fatalf("step 12 logged %d times:\n%s", n, data)
	}
	if n := strings.Count(string(data), `"kind":"eval"`); n != 3 {
		t.Fatalf("want 3 evaluations (one per epoch), got %d:\n%s", n, data)
	}
}

func TestNaNStopsWithoutSaving(t *testing.T) {
	dir := t.TempDir()
	o := newRun(t, dir)
	o.Model = &hook{Model: o.Model, nanAfter: 12}
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "loss is NaN at step 13") ||
		!strings.Contains(err.Error(), "(step 10)") {
		t.Fatalf("got %v", err)
	}
	f, err := checkpoints.Read(filepath.Join(dir, LatestFile))
	if err != nil {
		t.Fatal(err)
	}
	if meta, _ := f.DecodeMeta(); meta.Step != 10 {
		t.Fatalf("latest checkpoint moved to step %d", meta.Step)
	}
}

func TestBestAndConfigWritten(t *testing.T) {
	dir := t.TempDir()
	o := newRun(t, dir, "epochs=2")
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Step != 20 || len(res.Eval) == 0 || !(res.Eval[0].Value > 0) {
		t.Fatalf("result %+v", res)
	}
	for _, name := range []string{LatestFile, BestFile, ConfigFile, MetricsFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s not written: %v", name, err)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	if !strings.Contains(string(cfg), "hidden: 16") {
		t.Fatalf("config.yaml: %s", cfg)
	}
	// A second identical run has nothing left to do.
	again := newRun(t, dir, "epochs=2")
	res, err = Run(context.Background(), again)
	if err != nil || res.Step != 20 {
		t.Fatalf("rerun: %v %+v", err, res)
	}
	// A different seed refuses to resume.
	other := newRun(t, dir, "epochs=3")
	other.Seed = 8
	if _, err := Run(context.Background(), other); err == nil || !strings.Contains(err.Error(), "--seed 7") {
		t.Fatalf("got %v", err)
	}
	// --fresh starts over.
	fresh := newRun(t, dir, "epochs=1")
	fresh.Fresh = true
	res, err = Run(context.Background(), fresh)
	if err != nil || res.Resumed || res.Step != 10 {
		t.Fatalf("fresh: %v %+v", err, res)
	}
}
