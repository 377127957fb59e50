package cpu

import (
	"math"
	"runtime"
	"testing"
)

// naiveGemm is C = op(A)·op(B) by the definition, in float64.
func naiveGemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int) []float64 {
	c := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if tA {
					ai = p*lda + i
				}
				if tB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
			}
			c[i*n+j] = s
		}
	}
	return c
}

// A product large enough to split, by rows (m ≥ n) and by columns (m < n), with each
// transpose, equals the definition; and splitting it across aigc's threads (OpenBLAS
// builds) allocates nothing.
func TestGemmSplits(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 || runtime.NumCPU() < 2 {
		t.Log("one thread: products are not split here")
	}
	for _, dims := range [][3]int{{200, 72, 40}, {24, 300, 64}} {
		m, n, k := dims[0], dims[1], dims[2]
		if m*n*k < gemmSplitWork {
			t.Fatalf("%v is too small to split", dims)
		}
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			tA, tB := tr[0], tr[1]
			lda, ldb := k, n
			if tA {
				lda = m
			}
			if tB {
				ldb = k
			}
			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = float32(i%13) - 6
			}
			for i := range b {
				b[i] = float32(i%7)/4 - 0.5
			}
			c := make([]float32, m*n)
			Gemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
			want := naiveGemm(tA, tB, m, n, k, a, lda, b, ldb)
			for i := range c {
				if math.Abs(float64(c[i])-want[i]) > 1e-3*(1+math.Abs(want[i])) {
					t.Fatalf("%v transposes %v: c[%d] = %g, want %g", dims, tr, i, c[i], want[i])
				}
			}
			if !splitGemm {
				continue // gonum's BLAS starts goroutines of its own, which allocate
			}
			allocs := allocsPerCall(50, func() {
				Gemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
			})
			if allocs >= 1 { // a pool refilled on another P may allocate once in a while
				t.Errorf("%v transposes %v: %v allocations per product", dims, tr, allocs)
			}
		}
	}
}

// allocsPerCall is testing.AllocsPerRun without its GOMAXPROCS(1), under which nothing
// would be split.
func allocsPerCall(runs int, f func()) float64 {
	for range 5 {
		f()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs)
}
