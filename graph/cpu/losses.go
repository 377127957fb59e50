package cpu

import (
	"fmt"
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// Binary cross-entropy from logits, and softmax cross-entropy.

func init() {
	register("BCEWithLogits", bceKernel[float32], bceKernel[float64])
	register("BCEWithLogitsGrad", bceGradKernel[float32], bceGradKernel[float64])
	register("XentStats", xentStatsKernel[float32], xentStatsKernel[float64])
	register("Xent", xentKernel[float32], xentKernel[float64])
	register("XentGrad", xentGradKernel[float32], xentGradKernel[float64])
}

// bceKernel is softplus(l) − t·l summed over each row, written
// max(l,0) − t·l + log1p(e^−|l|) so that it neither overflows nor takes the log of a
// sigmoid that rounded to 0 or 1. Rows are shared among threads: log1p and exp per pixel
// make it the costliest element-wise work of an image model.
func bceKernel[T float](p *exec.Prep) (exec.Launch, error) {
	out, l, t := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	cols := p.In[0].Shape[1]
	return launch(len(out), 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var s float64 // a row of 784 terms in float64: cheap and exact enough
			for i := r * cols; i < (r+1)*cols; i++ {
				x := float64(l[i])
				s += max(x, 0) - float64(t[i])*x + math.Log1p(math.Exp(-math.Abs(x)))
			}
			out[r] = T(s)
		}
	}), nil
}

// bceGradKernel is dl = (σ(l) − t)·g[row].
func bceGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	dl, l, t, g := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2])
	cols := p.In[0].Shape[1]
	return launch(len(g), 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for i := r * cols; i < (r+1)*cols; i++ {
				dl[i] = (T(sigmoid64(float64(l[i]))) - t[i]) * g[r]
			}
		}
	}), nil
}

// xentMinRows is the number of rows of k logits worth a thread.
func xentMinRows(k int) int { return max(1, 16384/max(k, 1)) }

// ClassIndex returns label v of row r as an index into k classes, or an error.
func ClassIndex[T float](v T, r, k int) (int, error) {
	f := float64(v)
	if !(f >= 0 && f < float64(k) && f == math.Trunc(f)) {
		return 0, fmt.Errorf("label %v of row %d is not a class index in [0, %d)", f, r, k)
	}
	return int(f), nil
}

// checkLabels checks every label before any work is done.
func checkLabels[T float](labels []T, k int) error {
	for r, v := range labels {
		if _, err := ClassIndex(v, r, k); err != nil {
			return err
		}
	}
	return nil
}

// ExpNeg32 is e^x to a relative error of about 1e-9 (far below float32's resolution) for
// x ≤ 0, the arguments softmax needs; it is exact for 0, returns 0 below −708 and NaN for
// NaN. It is Cephes' expf polynomial evaluated in float64, about twice as fast as
// math.Exp.
func ExpNeg32(x float64) float64 {
	if !(x > -708) {
		if x != x {
			return x
		}
		return 0
	}
	const magic = 0x1.8p52 // adding it rounds to an integer k, held in the low bits
	kf := x*math.Log2E + magic
	k := kf - magic
	r := x - k*0.693145751953125 - k*1.42860682030941723212e-6
	// 1 + r + r²·(c0 + c1·r + … + c5·r⁵), the polynomial in Estrin's form so that its
	// terms evaluate in parallel
	r2 := r * r
	p01 := 5.0000001201e-1 + 1.6666665459e-1*r
	p23 := 4.1665795894e-2 + 8.3334519073e-3*r
	p45 := 1.3981999507e-3 + 1.9875691500e-4*r
	y := (p01+r2*(p23+r2*p45))*r2 + r + 1
	return y * math.Float64frombits((math.Float64bits(kf)+1023)<<52) // y·2^k
}

// sumExp returns Σ e^(x−m) over a row, in float64.
func sumExp[T float](row []T, m float64) float64 {
	var s0, s1 float64
	i := 0
	if isFloat32[T]() {
		for ; i+2 <= len(row); i += 2 {
			s0 += ExpNeg32(float64(row[i]) - m)
			s1 += ExpNeg32(float64(row[i+1]) - m)
		}
	} else {
		for ; i+2 <= len(row); i += 2 {
			s0 += math.Exp(float64(row[i]) - m)
			s1 += math.Exp(float64(row[i+1]) - m)
		}
	}
	for ; i < len(row); i++ {
		s0 += math.Exp(float64(row[i]) - m)
	}
	return s0 + s1
}

// RowMax returns the largest element of a non-empty row, ignoring NaNs (which make the
// sum of exponentials, and so the loss, NaN anyway).
func RowMax[T float](row []T) T {
	m0, m1, m2, m3 := row[0], row[0], row[0], row[0]
	i := 1
	for ; i+4 <= len(row); i += 4 {
		if row[i] > m0 {
			m0 = row[i]
		}
		if row[i+1] > m1 {
			m1 = row[i+1]
		}
		if row[i+2] > m2 {
			m2 = row[i+2]
		}
		if row[i+3] > m3 {
			m3 = row[i+3]
		}
	}
	for ; i < len(row); i++ {
		if row[i] > m0 {
			m0 = row[i]
		}
	}
	return max(m0, m1, m2, m3)
}

// xentStatsKernel computes each row's maximum m and log Σ e^(x−m).
func xentStatsKernel[T float](p *exec.Prep) (exec.Launch, error) {
	st, l := data[T](p.Out), data[T](p.In[0])
	k := p.In[0].Shape[1]
	return launch(len(st)/2, xentMinRows(k), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := l[r*k : (r+1)*k]
			m := RowMax(row)
			st[2*r] = m
			st[2*r+1] = T(math.Log(sumExp(row, float64(m))))
		}
	}), nil
}

// xentKernel is the per-row loss log Σ e^(x−m) − (x[label] − m).
func xentKernel[T float](p *exec.Prep) (exec.Launch, error) {
	out, l, labels, st := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2])
	k := p.In[0].Shape[1]
	return func() error {
		if err := checkLabels(labels, k); err != nil {
			return err
		}
		for r, v := range labels {
			out[r] = T(float64(st[2*r+1]) - (float64(l[r*k+int(v)]) - float64(st[2*r])))
		}
		return nil
	}, nil
}

// xentGradKernel is dl[r, i] = (e^(l[r,i]−m−lse) − [i = label[r]])·g[r].
func xentGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	dl, l, labels, st, g := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
	k := p.In[0].Shape[1]
	f32 := isFloat32[T]()
	body := func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, out := l[r*k:(r+1)*k], dl[r*k:(r+1)*k]
			m, lse, gr := float64(st[2*r]), float64(st[2*r+1]), float64(g[r])
			if f32 {
				for i, v := range row {
					out[i] = T(ExpNeg32(float64(v)-m-lse) * gr)
				}
			} else {
				for i, v := range row {
					out[i] = T(math.Exp(float64(v)-m-lse) * gr)
				}
			}
			// the label's term in float64, where p−1 does not cancel in float32
			j := int(labels[r])
			out[j] = T((math.Exp(float64(row[j])-m-lse) - 1) * gr)
		}
	}
	return func() error {
		if err := checkLabels(labels, k); err != nil {
			return err
		}
		For(len(labels), xentMinRows(k), body)
		return nil
	}, nil
}
