package cpu

import (
	"runtime"
	"sync"
	"time"

	"gonum.org/v1/gonum/blas"
)

// BLAS names the library that computes matrix products in this build, with the kernels it
// runs where it says.
func BLAS() string { return blasName() }

// SetThreads sets how many cores aigc computes on: Go's scheduler (and so For) and, when
// linked, OpenBLAS's thread pool.
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	runtime.GOMAXPROCS(n)
	if splitGemm {
		n = 1 // products are split on aigc's threads (see Gemm)
	}
	setBLASThreads(n)
}

// Gemm is C = alpha·op(A)·op(B) + beta·C for row-major float32 or float64 matrices, op
// transposing when its flag is set, on the BLAS this build links. With OpenBLAS, a large
// product is split into blocks of C's rows or columns run on aigc's own threads, each a
// single-threaded BLAS call: OpenBLAS's thread pool and aigc's took turns on the same
// cores, and each switch between them cost a gemm about a fifth of its time (OpenBLAS's
// idle workers either spin, taking a core from aigc's element-wise work, or sleep, and are
// woken for every product).
func Gemm[T float](tA, tB bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	threads := Threads()
	if !splitGemm || threads < 2 || m*n*k < gemmSplitWork {
		gemm1(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	j := getGemmJob[T]()
	j.gemmArgs = gemmArgs[T]{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
		beta: beta, c: c, ldc: ldc, byRows: m >= n}
	items := n
	if j.byRows {
		items = m
	}
	j.chunk = roundUp((items+threads-1)/threads, 16)
	For((items+j.chunk-1)/j.chunk, 1, j.body)
	j.gemmArgs = gemmArgs[T]{} // the pool keeps none of the caller's memory
	gemmJobs[T]().Put(j)
}

// gemmSplitWork is the fewest multiply-adds worth splitting a product across threads
// (OpenBLAS's own threshold).
const gemmSplitWork = 1 << 18

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// gemmRows computes rows lo:hi of C = alpha·op(A)·op(B) + beta·C, one BLAS call.
func gemmRows[T float](tA, tB bool, lo, hi, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	aOff := lo * lda // A's rows lo:hi, or with tA its columns
	if tA {
		aOff = lo
	}
	gemm1(tA, tB, hi-lo, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
}

// gemmCols computes columns lo:hi of C, one BLAS call.
func gemmCols[T float](tA, tB bool, m, lo, hi, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	bOff := lo // B's columns lo:hi, or with tB its rows
	if tB {
		bOff = lo * ldb
	}
	gemm1(tA, tB, m, hi-lo, k, alpha, a, lda, b[bOff:], ldb, beta, c[lo:], ldc)
}

// gemmArgs are a split product's operands and blocks.
type gemmArgs[T float] struct {
	tA, tB        bool
	m, n, k       int
	alpha, beta   float64
	a, b, c       []T
	lda, ldb, ldc int
	byRows        bool // blocks of C's rows, else of its columns
	chunk         int  // rows or columns a block
}

// gemmJob is a split product and the body For runs on each thread's blocks. Jobs are
// pooled, each with its body made once, so that a product splits without allocating (a
// closure handed to the pool's workers escapes to the heap).
type gemmJob[T float] struct {
	gemmArgs[T]
	body func(b0, b1 int)
}

func (j *gemmJob[T]) blocks(b0, b1 int) {
	for bl := b0; bl < b1; bl++ {
		lo := bl * j.chunk
		if j.byRows {
			gemmRows(j.tA, j.tB, lo, min(lo+j.chunk, j.m), j.n, j.k, j.alpha, j.a, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc)
		} else {
			gemmCols(j.tA, j.tB, j.m, lo, min(lo+j.chunk, j.n), j.k, j.alpha, j.a, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc)
		}
	}
}

var gemmJobs32, gemmJobs64 sync.Pool

func gemmJobs[T float]() *sync.Pool {
	if isFloat32[T]() {
		return &gemmJobs32
	}
	return &gemmJobs64
}

func getGemmJob[T float]() *gemmJob[T] {
	if j, ok := gemmJobs[T]().Get().(*gemmJob[T]); ok {
		return j
	}
	j := new(gemmJob[T])
	j.body = j.blocks
	return j
}

// gemm1 is one BLAS call.
func gemm1[T float](tA, tB bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		impl.Sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, alpha, a, lda, any(b).([]float64), ldb, beta, any(c).([]float64), ldc)
	}
}

// blasImpl is the part of BLAS aigc calls.
type blasImpl interface {
	blas.Float32Level3
	blas.Float64Level3
}

// SgemmRate measures the rate of float32 matrix products this machine reaches with the
// current threads: square products of n (512, the size of the models' large layers)
// repeated for about the given time. It is the yardstick `aigc bench` puts beside a
// model's achieved GFLOP/s.
func SgemmRate(d time.Duration) float64 {
	const n = 512
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = float32(i%7)/7, float32(i%5)/5
	}
	Gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n) // warm up the threads and caches
	start, runs := time.Now(), 0
	for time.Since(start) < d || runs < 2 {
		Gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		runs++
	}
	return 2 * n * n * n * float64(runs) / time.Since(start).Seconds() / 1e9
}
