package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotutil"
)

// inkOf counts the pixels of img close to a curve colour.
func inkOf(img image.Image, i int) int {
	r0, g0, b0, _ := plotutil.Color(i).RGBA()
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			if d := absDiff(r, r0) + absDiff(g, g0) + absDiff(bb, b0); d < 0x3000 {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// aigc plot draws each run's curves in a colour of its own; a GAN, whose evaluation is
// its FID, gets a second chart for it.
func TestPlot(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	for i, run := range []string{a, b} {
		args := append([]string{"train", "vae", "--run", run, "-q", "--set", "epochs=2", "--set", "log_every=2"}, tiny...)
		if i == 1 {
			args = append(args, "--set", "lr=3e-4")
		}
		mustSucceed(t, aigc(t, args...))
	}
	out := filepath.Join(base, "loss.png")
	r := aigc(t, "plot", a, b, "-o", out)
	mustSucceed(t, r)
	if r.stdout != "wrote "+out+"\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	img := decodePNG(t, out)
	if s := img.Bounds().Size(); s.X != 880 || s.Y != 495 {
		t.Fatalf("plot is %v", s)
	}
	if ink0, ink1, ink2 := inkOf(img, 0), inkOf(img, 1), inkOf(img, 2); ink0 < 200 || ink1 < 200 || ink2 != 0 {
		t.Fatalf("pixels of run a's colour %d, run b's %d, a third's %d", ink0, ink1, ink2)
	}

	gan := filepath.Join(base, "gan")
	mustSucceed(t, aigc(t, "train", "gan", "--run", gan, "-q", "--data", smallData, "--set", "epochs=2", "--set", "hidden=16",
		"--set", "batch_size=32", "--set", "eval_samples=20", "--set", "log_every=1"))
	svg := filepath.Join(base, "gan.svg")
	mustSucceed(t, aigc(t, "plot", gan, "-o", svg))
	if b, _ := os.ReadFile(svg); !strings.Contains(string(b), "d_loss: training") || !strings.Contains(string(b), "fid: evaluation") {
		t.Fatalf("the GAN's plot lacks its two charts")
	}
	// --metric picks another metric.
	mustSucceed(t, aigc(t, "plot", a, "--metric", "kl", "-o", filepath.Join(base, "kl.pdf")))

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plot", filepath.Join(base, "none"), "-o", out}, 1, filepath.Join(base, "none") + ": no metrics to draw"},
		{[]string{"plot", a, "-o", filepath.Join(base, "x.jpg")}, 2, "plots are written as .png or .svg or .pdf"},
		{[]string{"plot", a, "--metric", "fid", "-o", out}, 1, `no metric "fid" in its metrics.jsonl`},
		{[]string{"plot"}, 2, "plot takes one or more RUN directories"},
	} {
		r := aigc(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("aigc %s: exit %d, %q", strings.Join(c.args, " "), r.code, r.stderr)
		}
	}
}
