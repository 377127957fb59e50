// Package simd is the CPU device's fast float32 kernels: C loops that GCC vectorises,
// built for AVX-512, AVX2 and the baseline instruction set, one chosen at start. Every
// function works on the ranges it is given (the caller splits work across threads); none
// keeps a pointer after it returns. It needs cgo; graph/cpu uses it when cgo is on.
package simd

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include "kernels.h"
*/
import "C"

import "unsafe"

func p(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

// Level names the instruction set in use.
func Level() string {
	return [...]string{"SSE2", "AVX2", "AVX-512"}[C.aigc_simd_level()]
}

// Use selects the instruction set by name ("AVX-512", "AVX2", "SSE2"), no higher than the
// processor has, and returns the one in use.
func Use(level string) string {
	l := map[string]int{"SSE2": 0, "AVX2": 1, "AVX-512": 2}[level]
	C.aigc_simd_use(C.int(l))
	return Level()
}

// Add is y = a + b (y may be a or b).
func Add(y, a, b []float32) { C.aigc_add(p(y), p(a[:len(y)]), p(b[:len(y)]), C.long(len(y))) }

// Sub is y = a − b.
func Sub(y, a, b []float32) { C.aigc_sub(p(y), p(a[:len(y)]), p(b[:len(y)]), C.long(len(y))) }

// Mul is y = a ⊙ b.
func Mul(y, a, b []float32) { C.aigc_mul(p(y), p(a[:len(y)]), p(b[:len(y)]), C.long(len(y))) }

// Affine is y = s·x + c.
func Affine(y, x []float32, s, c float32) {
	C.aigc_affine(p(y), p(x[:len(y)]), C.float(s), C.float(c), C.long(len(y)))
}

// Map is y = f(x) for function fn of exec.MapFn's numbering.
func Map(fn int, alpha float32, y, x []float32) {
	C.aigc_map(C.int(fn), C.float(alpha), p(y), p(x[:len(y)]), C.long(len(y)))
}

// MapGrad is dx = dy·f'(·) from y (x for square).
func MapGrad(fn int, alpha float32, dx, y, dy []float32) {
	C.aigc_map_grad(C.int(fn), C.float(alpha), p(dx), p(y[:len(dx)]), p(dy[:len(dx)]), C.long(len(dx)))
}

// AddBiasRows is y[r, j] = x[r, j] + b[j] for rows of len(b).
func AddBiasRows(y, x, b []float32) {
	n := len(b)
	C.aigc_add_bias_rows(p(y), p(x[:len(y)]), p(b), C.long(len(y)/n), C.long(n))
}

// ColSums is db[j] = Σ_r dy[r, j] over the first len(db) columns of rows ld apart.
func ColSums(db, dy []float32, rows, ld int) {
	C.aigc_col_sums(p(db), p(dy[:(rows-1)*ld+len(db)]), C.long(rows), C.long(len(db)), C.long(ld))
}

// BCERows is out[r] = Σ_i softplus(l) − t·l over rows of cols.
func BCERows(out, l, t []float32, cols int) {
	C.aigc_bce_rows(p(out), p(l[:len(out)*cols]), p(t[:len(out)*cols]), C.long(len(out)), C.long(cols))
}

// BCEGrad is dl = (σ(l) − t)·g[row] over rows of cols.
func BCEGrad(dl, l, t, g []float32, cols int) {
	C.aigc_bce_grad(p(dl), p(l[:len(dl)]), p(t[:len(dl)]), p(g[:len(dl)/cols]), C.long(len(dl)/cols), C.long(cols))
}

// XentStats is each row's max and log Σ e^(x−max), into st [rows, 2]; work holds k floats.
func XentStats(st, l []float32, k int, work []float32) {
	rows := len(st) / 2
	C.aigc_xent_stats(p(st), p(l[:rows*k]), C.long(rows), C.long(k), p(work[:k]))
}

// XentGrad is dl = softmax(l)·g[row] (without the label's −1).
func XentGrad(dl, l, st, g []float32, k int) {
	rows := len(dl) / k
	C.aigc_xent_grad(p(dl), p(l[:len(dl)]), p(st[:2*rows]), p(g[:rows]), C.long(rows), C.long(k))
}

// GELU is y = x·Φ(x).
func GELU(y, x []float32) { C.aigc_gelu(p(y), p(x[:len(y)]), C.long(len(y))) }

// GELUGrad is dx = dy·(Φ(x) + x·φ(x)).
func GELUGrad(dx, x, dy []float32) {
	C.aigc_gelu_grad(p(dx), p(x[:len(dx)]), p(dy[:len(dx)]), C.long(len(dx)))
}

// LNStats is each row's mean and 1/√(var+eps) into st [rows, 2], rows of d.
func LNStats(st, x []float32, d int, eps float32) {
	rows := len(st) / 2
	C.aigc_ln_stats(p(st), p(x[:rows*d]), C.long(rows), C.long(d), C.float(eps))
}

// LNForward is y = (x − μ)·rstd·γ + β over rows of d.
func LNForward(y, x, gamma, beta, st []float32, d int) {
	rows := len(y) / d
	C.aigc_ln_fwd(p(y), p(x[:len(y)]), p(gamma), p(beta), p(st[:2*rows]), C.long(rows), C.long(d))
}

// LNGradX is x's gradient over rows of d.
func LNGradX(dx, x, gamma, st, dy []float32, d int) {
	rows := len(dx) / d
	C.aigc_ln_grad_x(p(dx), p(x[:len(dx)]), p(gamma), p(st[:2*rows]), p(dy[:len(dx)]), C.long(rows), C.long(d))
}

// LNGradGamma adds Σ_rows dy·x̂ into dg, over rows of d = len(dg).
func LNGradGamma(dg, x, st, dy []float32) {
	d := len(dg)
	rows := len(x) / d
	C.aigc_ln_grad_gamma(p(dg), p(x), p(st[:2*rows]), p(dy[:len(x)]), C.long(rows), C.long(d))
}

// SoftmaxRows turns rows of cols into probabilities in place, causally (row i keeps the
// columns up to i+diag) and under a mask (nil: none).
func SoftmaxRows(s []float32, cols int, causal bool, diag int, mask []float32) {
	c := C.int(0)
	if causal {
		c = 1
	}
	C.aigc_softmax_rows(p(s), C.long(len(s)/cols), C.long(cols), c, C.long(diag), p(mask))
}

// SoftmaxGradRows is out = P ⊙ (dP − Σ_row dP⊙P) over rows of cols.
func SoftmaxGradRows(out, pr, dp []float32, cols int) {
	C.aigc_softmax_grad_rows(p(out), p(pr[:len(out)]), p(dp[:len(out)]), C.long(len(out)/cols), C.long(cols))
}

// LSTMForward is one step of the cell over rows: the tape rows [rows, 6h] from the gates
// [rows, 4h] and the previous cell state (rows ldc apart).
func LSTMForward(tape, gates, cprev []float32, ldc, rows, h int) {
	C.aigc_lstm_fwd(p(tape), p(gates), p(cprev), C.long(ldc), C.long(rows), C.long(h))
}

// LSTMBackward is one step of backpropagation through the cell over rows.
func LSTMBackward(da, dhNext, dcNext, tape, dtape, cprev []float32, ldc, rows, h int) {
	C.aigc_lstm_bwd(p(da), p(dhNext), p(dcNext), p(tape), p(dtape), p(cprev), C.long(ldc), C.long(rows), C.long(h))
}

// Adam is one fused pass over a parameter (avg nil: no average).
func Adam(w, g, m, v, avg []float32, scale, shrink, b1, b2, step, invBC2, eps, rate float32) {
	n := len(w)
	C.aigc_adam(p(w), p(g[:n]), p(m[:n]), p(v[:n]), p(avg), C.long(n), C.float(scale), C.float(shrink),
		C.float(b1), C.float(b2), C.float(step), C.float(invBC2), C.float(eps), C.float(rate))
}

// EMA is avg = d·avg + (1−d)·w.
func EMA(avg, w []float32, d float32) {
	C.aigc_ema(p(avg), p(w[:len(avg)]), C.long(len(avg)), C.float(d))
}

// SumSquares is Σ x² in float64.
func SumSquares(x []float32) float64 { return float64(C.aigc_sumsq(p(x), C.long(len(x)))) }
