package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/internal/tensorboard/tbread"
)

// jsonlScalars returns what metrics.jsonl holds as TensorBoard would tag it: kind/key →
// step → value, for every number but the step and the wall time.
func jsonlScalars(t *testing.T, dir string) map[string]map[int]float64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		step := int(rec["step"].(float64))
		for k, v := range rec {
			f, ok := v.(float64)
			if !ok || k == "step" || k == "wall_s" {
				continue
			}
			tag := rec["kind"].(string) + "/" + k
			if out[tag] == nil {
				out[tag] = map[int]float64{}
			}
			out[tag][step] = f
		}
	}
	return out
}

// A run's TensorBoard log, read back by an independent decoder, holds what metrics.jsonl
// holds (every tag, step and value) and the per-epoch samples as the files the run wrote:
// the grid as its PNG, the text sample as its text.
func TestTensorBoardLog(t *testing.T) {
	cases := []struct {
		model  string
		args   []string
		epochs []int // the steps of the per-epoch samples
		ext    string
	}{
		{"vae", append([]string{"--set", "epochs=2", "--set", "log_every=4"}, tiny...), []int{16, 32}, "png"},
		{"gpt", append(append([]string{}, tinyGPT...), "--set", "log_every=2"), []int{3, 6}, "txt"},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			dir := t.TempDir()
			mustSucceed(t, aigc(t, append([]string{"train", c.model, "--run", dir, "-q"}, c.args...)...))
			events, err := tbread.Dir(filepath.Join(dir, "tb"))
			if err != nil {
				t.Fatal(err)
			}
			if len(events) == 0 || events[0].FileVersion != "brain.Event:2" {
				t.Fatalf("events %+v", events)
			}
			got, err := tbread.Scalars(events)
			if err != nil {
				t.Fatal(err)
			}
			want := jsonlScalars(t, dir)
			if len(got) != len(want) {
				t.Fatalf("TensorBoard tags %s; metrics.jsonl has %d", tbread.Tags(events), len(want))
			}
			for tag, steps := range want {
				if len(got[tag]) != len(steps) {
					t.Fatalf("%s: %d steps in TensorBoard, %d in metrics.jsonl", tag, len(got[tag]), len(steps))
				}
				for step, v := range steps {
					g, ok := got[tag][step]
					if !ok || math.Abs(float64(g)-v) > 1e-6*math.Abs(v)+1e-30 {
						t.Fatalf("%s at step %d: %v in TensorBoard, %v in metrics.jsonl", tag, step, g, v)
					}
				}
			}
			for _, tag := range []string{"train/loss", "train/lr", "eval/loss", "train/epoch"} {
				if want[tag] == nil {
					t.Errorf("no %s", tag)
				}
			}

			var samples []tbread.Event
			for _, e := range events {
				if e.Tag == "samples" {
					samples = append(samples, e)
				}
			}
			if len(samples) != len(c.epochs) {
				t.Fatalf("%d samples logged, want %d", len(samples), len(c.epochs))
			}
			for i, e := range samples {
				file, _ := os.ReadFile(filepath.Join(dir, "samples", fmt.Sprintf("epoch_%03d.%s", i+1, c.ext)))
				if e.Step != c.epochs[i] || len(file) == 0 {
					t.Fatalf("sample %d at step %d", i+1, e.Step)
				}
				switch c.ext {
				case "png":
					img, err := png.Decode(bytes.NewReader(e.Image))
					if err != nil || !bytes.Equal(e.Image, file) || img.Bounds().Dx() != e.Width || img.Bounds().Dy() != e.Height || e.Colorspace != 1 {
						t.Fatalf("grid %d: %v, %dx%d, colorspace %d", i+1, err, e.Width, e.Height, e.Colorspace)
					}
				case "txt":
					if e.Kind != "text" || e.Plugin != "text" || e.Text != string(file) {
						t.Fatalf("text sample %d: %+v", i+1, e)
					}
				}
			}
		})
	}
}

// Resuming cuts the TensorBoard log back to the checkpoint, as it does metrics.jsonl, so
// that each step is logged once however often the run was stopped.
func TestTensorBoardLogResumes(t *testing.T) {
	dir := t.TempDir()
	args := append([]string{"train", "vae", "--run", dir, "-q", "--set", "log_every=2"}, tiny...)
	mustSucceed(t, aigc(t, append(args, "--steps", "10")...))
	// A crash after the checkpoint at step 10: steps logged past it, in both logs, and the
	// checkpoint still the one of step 10.
	latest, _ := os.ReadFile(filepath.Join(dir, "latest.safetensors"))
	mustSucceed(t, aigc(t, append(args, "--steps", "14")...))
	os.WriteFile(filepath.Join(dir, "latest.safetensors"), latest, 0o644)
	mustSucceed(t, aigc(t, append(args, "--steps", "20")...))
	events, err := tbread.Dir(filepath.Join(dir, "tb"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbread.Scalars(events) // fails on a step logged twice
	if err != nil {
		t.Fatal(err)
	}
	if len(got["train/loss"]) != 10 || len(got["train/loss"]) != len(jsonlScalars(t, dir)["train/loss"]) {
		t.Fatalf("train/loss at %v", got["train/loss"])
	}
}
