package cpu

import (
	"math"
	"runtime"

	"github.com/aigc-go/aigc/graph/exec"
)

// Multi-head scaled dot-product attention: per sequence and head, small products through
// BLAS and the row softmax, the (sequence, head) pairs shared among threads.

func init() {
	kinds := map[string]attnFn{"AttentionProbs": attnProbs, "AttentionApply": attnApply,
		"AttentionProbsGradQ": attnProbsGradQ, "AttentionProbsGradK": attnProbsGradK,
		"AttentionApplyGradP": attnApplyGradP, "AttentionApplyGradV": attnApplyGradV}
	for kind, fn := range kinds {
		register(kind, attnKernel(fn, attnRows[float32]{SoftmaxRows[float32], softmaxGradRows[float32]}),
			attnKernel(fn, attnRows[float64]{SoftmaxRows[float64], softmaxGradRows[float64]}))
	}
}

// attnRows is the row-wise work of attention on one head's [Tq, Tk] block: the softmax of
// the scores in place (causal, under a mask), and dS = P ⊙ (dP − rowsum(dP ⊙ P)).
type attnRows[T float] struct {
	softmax func(s []T, rows, cols int, causal bool, mask []T)
	grad    func(out, p, dp []T, rows, cols int)
}

// softmaxGradRows is dS = P ⊙ (dP − rowsum(dP ⊙ P)), the sum in float64.
func softmaxGradRows[T float](out, pr, dp []T, rows, cols int) {
	for i := range rows {
		var dot float64
		for j := range cols {
			dot += float64(dp[i*cols+j]) * float64(pr[i*cols+j])
		}
		for j := range cols {
			out[i*cols+j] = pr[i*cols+j] * (dp[i*cols+j] - T(dot))
		}
	}
}

type attnFn uint8

const (
	attnProbs      attnFn = iota // (q, k[, mask]) → P
	attnApply                    // (P, v) → Y
	attnProbsGradQ               // (q, k, P, dP) → dq, shaped like q
	attnProbsGradK               // (q, k, P, dP) → dk, shaped like k
	attnApplyGradP               // (v, dY) → dP
	attnApplyGradV               // (P, dY, v) → dv, shaped like v
)

// AttentionShapeOf returns the attributes of any attention op.
func AttentionShapeOf(op exec.Op) exec.AttentionShape {
	switch o := op.(type) {
	case exec.AttentionProbs:
		return o.AttentionShape
	case exec.AttentionApply:
		return o.AttentionShape
	case exec.AttentionProbsGradQ:
		return o.AttentionShape
	case exec.AttentionProbsGradK:
		return o.AttentionShape
	case exec.AttentionApplyGradP:
		return o.AttentionShape
	case exec.AttentionApplyGradV:
		return o.AttentionShape
	}
	panic("cpu: not an attention op")
}

func attnKernel[T float](fn attnFn, rows attnRows[T]) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		a := AttentionShapeOf(p.Op)
		y := data[T](p.Out)
		in := make([][]T, len(p.In))
		widths := make([]int, len(p.In))
		for i, o := range p.In {
			in[i] = data[T](o)
			widths[i] = o.Shape[1]
		}
		d := a.Dim / a.Heads
		tq, tk := a.Tq, a.Tk
		scale := 1 / math.Sqrt(float64(d))
		var b int
		switch fn {
		case attnProbs, attnProbsGradQ, attnProbsGradK:
			b = len(in[0]) / widths[0] / tq
		case attnApply, attnApplyGradV:
			b = len(in[0]) / tk / (a.Heads * tq)
		case attnApplyGradP:
			b = len(in[1]) / widths[1] / tq
		}
		threads := runtime.NumCPU() // Threads() at most, whatever GOMAXPROCS is at launch
		var tmp *exec.Scratch
		if fn == attnProbsGradQ || fn == attnProbsGradK {
			tmp = p.Scratch(dtypeOf[T](), threads*tq*tk)
		}
		clears := fn != attnProbs && fn != attnApply && fn != attnApplyGradP
		heads := b * a.Heads
		chunk := func(lo int) []T { // a thread's scratch, by the first item of its range
			if tmp == nil {
				return nil
			}
			t := ChunkIndex(heads, 1, lo)
			return scratch[T](tmp)[t*tq*tk : (t+1)*tq*tk]
		}
		body := func(lo, hi int) {
			work := chunk(lo)
			for bh := lo; bh < hi; bh++ {
				attnHead(fn, a, bh, y, in, widths, work, d, scale, rows)
			}
		}
		return func() error {
			if clears {
				clear(y) // gradients with respect to q, k or v fill only their own columns
			}
			For(heads, 1, body)
			return nil
		}, nil
	}
}

// attnHead computes one (sequence, head) block of an attention function.
func attnHead[T float](fn attnFn, a exec.AttentionShape, bh int, y []T, in [][]T, widths []int, tmp []T, d int, scale float64, rows attnRows[T]) {
	tq, tk := a.Tq, a.Tk
	s, h := bh/a.Heads, bh%a.Heads
	p := func(buf []T) []T { return buf[bh*tq*tk : (bh+1)*tq*tk] } // this head's [Tq, Tk] block
	switch fn {
	case attnProbs:
		q, k := in[0], in[1]
		wq, wk := widths[0], widths[1]
		out := p(y)
		// scores = q_h·k_hᵀ·scale
		Gemm(false, true, tq, tk, d, scale, q[s*tq*wq+a.QOff+h*d:], wq, k[s*tk*wk+a.KOff+h*d:], wk, 0, out, tk)
		var mask []T
		if a.Masked {
			mask = in[2][s*tk : (s+1)*tk]
		}
		rows.softmax(out, tq, tk, a.Causal, mask)
	case attnApply:
		v, wv := in[1], widths[1]
		// y_h = P_h·v_h, written into the head's columns of the output rows
		Gemm(false, false, tq, d, tk, 1, p(in[0]), tk, v[s*tk*wv+a.VOff+h*d:], wv, 0, y[s*tq*a.Dim+h*d:], a.Dim)
	case attnApplyGradP:
		v, dy := in[0], in[1]
		wv := widths[0]
		// dP_h = dY_h·v_hᵀ
		Gemm(false, true, tq, tk, d, 1, dy[s*tq*a.Dim+h*d:], a.Dim, v[s*tk*wv+a.VOff+h*d:], wv, 0, p(y), tk)
	case attnApplyGradV:
		dy, wv := in[1], widths[2]
		// dv_h = P_hᵀ·dY_h
		Gemm(true, false, tk, d, tq, 1, p(in[0]), tk, dy[s*tq*a.Dim+h*d:], a.Dim, 0, y[s*tk*wv+a.VOff+h*d:], wv)
	case attnProbsGradQ, attnProbsGradK:
		q, k, pr, dp := in[0], in[1], p(in[2]), p(in[3])
		wq, wk := widths[0], widths[1]
		// dS = P ⊙ (dP − rowsum(dP ⊙ P)), then the scores' product rule.
		rows.grad(tmp, pr, dp, tq, tk)
		if fn == attnProbsGradQ { // dq_h = dS·k_h·scale
			Gemm(false, false, tq, d, tk, scale, tmp, tk, k[s*tk*wk+a.KOff+h*d:], wk, 0, y[s*tq*wq+a.QOff+h*d:], wq)
		} else { // dk_h = dSᵀ·q_h·scale
			Gemm(true, false, tk, d, tq, scale, tmp, tk, q[s*tq*wq+a.QOff+h*d:], wq, 0, y[s*tk*wk+a.KOff+h*d:], wk)
		}
	}
}
