package datasets

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
)

// maxGridSide bounds each side of a grid image, far above any sensible sample sheet, so
// a wrong argument fails clearly instead of allocating gigabytes.
const maxGridSide = 1 << 15

// WriteGrid writes n images of h×wd pixels (values in [0,1], clamped and rounded to 8
// bits) as one 8-bit grayscale PNG, cols images per row, with pad black pixels around and
// between the images. The layout is torchvision's save_image: a grid of
// min(cols, n) × ceil(n/cols) cells, (pad+h)*rows + pad pixels high and
// (pad+wd)*cols + pad wide.
func WriteGrid(w io.Writer, pixels []float32, n, h, wd, cols, pad int) error {
	switch {
	case n <= 0 || h <= 0 || wd <= 0:
		return fmt.Errorf("grid: need at least one image of at least 1x1 pixels, got %d images of %dx%d", n, h, wd)
	case cols <= 0:
		return fmt.Errorf("grid: images per row must be positive, got %d", cols)
	case pad < 0:
		return fmt.Errorf("grid: padding must not be negative, got %d", pad)
	case h > maxGridSide || wd > maxGridSide || pad > maxGridSide || n > maxGridSide*maxGridSide:
		return fmt.Errorf("grid: %d images of %dx%d with padding %d is too large", n, h, wd, pad)
	}
	if len(pixels) != n*h*wd {
		return fmt.Errorf("grid: %d images of %dx%d need %d pixels, got %d", n, h, wd, n*h*wd, len(pixels))
	}
	cols = min(cols, n)
	rows := (n + cols - 1) / cols
	gridH, gridW := (pad+h)*rows+pad, (pad+wd)*cols+pad
	if gridH > maxGridSide || gridW > maxGridSide {
		return fmt.Errorf("grid: a %dx%d image is too large; at most %d pixels a side", gridW, gridH, maxGridSide)
	}

	img := image.NewGray(image.Rect(0, 0, gridW, gridH)) // zero, so padding is black
	for k := range n {
		top := pad + (k/cols)*(pad+h)
		left := pad + (k%cols)*(pad+wd)
		src := pixels[k*h*wd : (k+1)*h*wd]
		for y := range h {
			row := img.Pix[(top+y)*img.Stride+left:]
			for x, v := range src[y*wd : (y+1)*wd] {
				row[x] = toByte(v)
			}
		}
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("grid: writing PNG: %w", err)
	}
	return nil
}

// toByte maps [0,1] to 0..255 the way torchvision does (v*255 + 0.5, clamped); NaN
// becomes 0 so a diverged model shows black instead of noise.
func toByte(v float32) uint8 {
	f := float64(v)*255 + 0.5
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f >= 255:
		return 255
	}
	return uint8(f)
}
