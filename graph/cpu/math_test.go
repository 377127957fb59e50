package cpu

import (
	"math"
	"testing"

	"github.com/aigc-go/aigc/internal/rng"
)

// The float32 path's Φ and φ agree with the exact ones to float32 resolution.
func TestFastNormalCDF(t *testing.T) {
	for x := -8.0; x <= 8; x += 0.01 {
		cdf, pdf := NormalCDFPDF32(x)
		wantCDF := 0.5 * (1 + math.Erf(x/math.Sqrt2))
		wantPDF := math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
		if math.Abs(cdf-wantCDF) > 2e-7 || math.Abs(pdf-wantPDF) > 1e-9 {
			t.Fatalf("x = %g: Φ %g (want %g), φ %g (want %g)", x, cdf, wantCDF, pdf, wantPDF)
		}
	}
}

// The float32 path's exponential agrees with math.Exp far below float32's resolution.
func TestExpNeg32(t *testing.T) {
	r := rng.New(71)
	for i := range 100000 {
		x := -r.Float64() * 120
		if i%2 == 0 {
			x = -r.Float64() * 4
		}
		want := math.Exp(x)
		if d := math.Abs(ExpNeg32(x)-want) / want; d > 1e-8 {
			t.Fatalf("ExpNeg32(%v) = %v, math.Exp %v", x, ExpNeg32(x), want)
		}
	}
	if ExpNeg32(0) != 1 || ExpNeg32(-800) != 0 || ExpNeg32(math.Inf(-1)) != 0 || !math.IsNaN(ExpNeg32(math.NaN())) {
		t.Fatal("ExpNeg32 special values")
	}
}
