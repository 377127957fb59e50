package datasets

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"strings"
	"testing"
)

func TestWriteGrid(t *testing.T) {
	const n, h, w, cols, pad = 5, 3, 4, 2, 2
	pixels := make([]float32, n*h*w)
	for k := range n {
		for j := range h * w {
			pixels[k*h*w+j] = float32(k+1) / 10
		}
	}
	// Image 0 gets corner values that test clamping and rounding.
	pixels[0], pixels[1], pixels[2], pixels[3] = -0.5, 1.7, 0.5, float32(math.NaN())

	var buf bytes.Buffer
	if err := WriteGrid(&buf, pixels, n, h, w, cols, pad); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	gray, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("decoded %T, want 8-bit grayscale", img)
	}
	rows := 3
	if b := gray.Bounds(); b.Dx() != (pad+w)*cols+pad || b.Dy() != (pad+h)*rows+pad {
		t.Fatalf("size %v, want %dx%d", b.Size(), (pad+w)*cols+pad, (pad+h)*rows+pad)
	}
	at := func(x, y int) uint8 { return gray.GrayAt(x, y).Y }
	for _, c := range []struct {
		x, y int
		want uint8
	}{
		{0, 0, 0}, {1, 1, 0}, // outer padding
		{pad, pad, 0}, {pad + 1, pad, 255}, {pad + 2, pad, 128}, {pad + 3, pad, 0}, // clamped, rounded, NaN
		{pad + w, pad, 0}, {pad + w + 1, pad, 0}, // padding between columns
		{2*pad + w, pad, 51},                // image 1 (0.2*255 = 51)
		{pad, 2*pad + h, 77},                // image 2, second row (0.3*255 = 76.5)
		{2*pad + w + 3, 3*pad + 2*h + 2, 0}, // the empty sixth cell
		{pad + 3, 3*pad + 2*h + 2, 128},     // image 4 (0.5*255 = 127.5)
	} {
		if got := at(c.x, c.y); got != c.want {
			t.Errorf("pixel (%d,%d) = %d, want %d", c.x, c.y, got, c.want)
		}
	}
}

func TestWriteGridFewerImagesThanColumns(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteGrid(&buf, make([]float32, 3*28*28), 3, 28, 28, 8, 2); err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 3*30+2 || cfg.Height != 32 {
		t.Fatalf("size %dx%d, want 92x32", cfg.Width, cfg.Height)
	}
}

func TestWriteGridErrors(t *testing.T) {
	px := make([]float32, 4)
	for _, c := range []struct {
		name               string
		pixels             []float32
		n, h, w, cols, pad int
		wantErr            string
	}{
		{"no images", nil, 0, 2, 2, 8, 2, "need at least one image"},
		{"zero height", px, 1, 0, 4, 8, 2, "need at least one image"},
		{"zero columns", px, 1, 2, 2, 0, 2, "images per row must be positive, got 0"},
		{"negative padding", px, 1, 2, 2, 8, -1, "padding must not be negative"},
		{"too few pixels", px, 2, 2, 2, 8, 2, "2 images of 2x2 need 8 pixels, got 4"},
		{"huge", px, 1, 1 << 20, 1 << 20, 8, 2, "too large"},
		{"wide grid", make([]float32, 20000), 20000, 1, 1, 20000, 2, "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := WriteGrid(&bytes.Buffer{}, c.pixels, c.n, c.h, c.w, c.cols, c.pad)
			if err == nil || !strings.HasPrefix(err.Error(), "grid: ") || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}
