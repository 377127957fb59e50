//go:build cgo

package cpu

import (
	"math"

	"github.com/aigc-go/aigc/graph/cpu/simd"
	"github.com/aigc-go/aigc/graph/exec"
)

// The fast float32 kernels: the same work split as the reference kernels, each range
// computed by a vectorised C loop (package simd). Built with cgo; without it the device
// runs the reference kernels everywhere.

// SIMD names the instruction set the fast kernels use, or "" when they are off.
func SIMD() string {
	if !fastEnabled {
		return ""
	}
	return simd.Level()
}

func init() {
	registerFast("Add", fastBinary(simd.Add))
	registerFast("Sub", fastBinary(simd.Sub))
	registerFast("Mul", fastBinary(simd.Mul))
	registerFast("Affine", fastAffine)
	registerFast("Map", fastMap)
	registerFast("MapGrad", fastMapGrad)
	registerFast("AddBias", fastAddBias)
	registerFast("BiasGrad", fastBiasGrad)
	registerFast("BCEWithLogits", fastBCE)
	registerFast("BCEWithLogitsGrad", fastBCEGrad)
	registerFast("XentStats", fastXentStats)
	registerFast("XentGrad", fastXentGrad)
	registerFast("GELU", fastGELU(false))
	registerFast("GELUGrad", fastGELU(true))
	registerFast("LayerNormStats", fastLNStats)
	registerFast("LayerNorm", fastLN)
	registerFast("LayerNormGradX", fastLNGradX)
	registerFast("LayerNormGradGamma", fastLNGradGamma)
	for kind, fn := range map[string]attnFn{"AttentionProbs": attnProbs, "AttentionProbsGradQ": attnProbsGradQ,
		"AttentionProbsGradK": attnProbsGradK} {
		registerFast(kind, attnKernel(fn, attnRows[float32]{fastSoftmaxRows, fastSoftmaxGradRows}))
	}
	registerFast("LSTMSequence", lstmSeqKernel(fastLSTMFwdRows))
	registerFast("LSTMSequenceGrad", lstmSeqGradKernel(fastLSTMBwdRows))
	registerFast("ElmanSequence", elmanKernel(func(x []float32) { simd.Map(int(exec.Tanh), 0, x, x) }))
	registerFast("ElmanSequenceGrad", elmanGradKernel(func(d, y []float32) { simd.MapGrad(int(exec.Tanh), 0, d, y, d) }))
	registerFast("AdamStep", fastAdam)
	registerFast("EMAStep", fastEMA)
	registerFast("SumSquares", fastSumSquares)
	registerFast("Fused", fusedKernel(fastElemStep))
	epilogueStep32 = fastElemStep
}

// fastElemStep is an element-wise op on a block, vectorised.
func fastElemStep(op exec.Op) (stepFunc[float32], error) {
	switch op := op.(type) {
	case exec.Add:
		return func(d []float32, a [][]float32) { simd.Add(d, a[0], a[1]) }, nil
	case exec.Sub:
		return func(d []float32, a [][]float32) { simd.Sub(d, a[0], a[1]) }, nil
	case exec.Mul:
		return func(d []float32, a [][]float32) { simd.Mul(d, a[0], a[1]) }, nil
	case exec.Affine:
		s, c := float32(op.Scale), float32(op.Shift)
		return func(d []float32, a [][]float32) { simd.Affine(d, a[0], s, c) }, nil
	case exec.Map:
		fn, al := int(op.Fn), float32(op.Alpha)
		return func(d []float32, a [][]float32) { simd.Map(fn, al, d, a[0]) }, nil
	case exec.MapGrad:
		fn, al := int(op.Fn), float32(op.Alpha)
		return func(d []float32, a [][]float32) { simd.MapGrad(fn, al, d, a[0], a[1]) }, nil
	case exec.GELU:
		return func(d []float32, a [][]float32) { simd.GELU(d, a[0]) }, nil
	case exec.GELUGrad:
		return func(d []float32, a [][]float32) { simd.GELUGrad(d, a[0], a[1]) }, nil
	}
	return elemStep[float32](op)
}

// fastGrain is the fewest elements of vectorised element-wise work worth a thread.
const fastGrain = 1 << 15

func fastBinary(f func(y, a, b []float32)) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		y, a, b := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1])
		return launch(len(y), fastGrain, func(lo, hi int) { f(y[lo:hi], a[lo:hi], b[lo:hi]) }), nil
	}
}

func fastAffine(p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Affine)
	y, x := data[float32](p.Out), data[float32](p.In[0])
	s, c := float32(op.Scale), float32(op.Shift)
	return launch(len(y), fastGrain, func(lo, hi int) { simd.Affine(y[lo:hi], x[lo:hi], s, c) }), nil
}

// mapGrain is the fewest elements per thread for fn: the transcendental ones cost more.
func mapGrain(fn exec.MapFn) int {
	switch fn {
	case exec.Tanh, exec.Sigmoid, exec.Exp:
		return 1 << 12
	}
	return fastGrain
}

func fastMap(p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Map)
	y, x := data[float32](p.Out), data[float32](p.In[0])
	fn, a := int(op.Fn), float32(op.Alpha)
	return launch(len(y), mapGrain(op.Fn), func(lo, hi int) { simd.Map(fn, a, y[lo:hi], x[lo:hi]) }), nil
}

func fastMapGrad(p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.MapGrad)
	dx, y, dy := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1])
	fn, a := int(op.Fn), float32(op.Alpha)
	return launch(len(dx), fastGrain, func(lo, hi int) { simd.MapGrad(fn, a, dx[lo:hi], y[lo:hi], dy[lo:hi]) }), nil
}

func fastAddBias(p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.AddBias)
	y, x, b := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1])
	outer, n, inner := BiasSplit(p.In[0].Shape, op.Axis)
	if inner == 1 { // [rows, n]
		return launch(outer, max(1, fastGrain/n), func(lo, hi int) {
			simd.AddBiasRows(y[lo*n:hi*n], x[lo*n:hi*n], b)
		}), nil
	}
	return launch(outer*n, max(1, fastGrain/inner), func(lo, hi int) {
		for q := lo; q < hi; q++ {
			simd.Affine(y[q*inner:(q+1)*inner], x[q*inner:(q+1)*inner], 1, b[q%n])
		}
	}), nil
}

// fastBiasGrad sums [rows, n] matrices down their columns, each thread a block of
// columns (so every sum keeps the rows' order); other layouts take the reference path.
func fastBiasGrad(p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.BiasGrad)
	outer, n, inner := BiasSplit(p.In[0].Shape, op.Axis)
	if inner != 1 {
		return biasGradKernel[float32](p)
	}
	db, dy := data[float32](p.Out), data[float32](p.In[0])
	const block = 64 // columns per item
	items := (n + block - 1) / block
	return launch(items, max(1, fastGrain/(outer*block)), func(lo, hi int) {
		for it := lo; it < hi; it++ {
			c0, c1 := it*block, min((it+1)*block, n)
			simd.ColSums(db[c0:c1], dy[c0:], outer, n)
		}
	}), nil
}

func fastBCE(p *exec.Prep) (exec.Launch, error) {
	out, l, t := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1])
	cols := p.In[0].Shape[1]
	return launch(len(out), max(1, 4096/cols), func(lo, hi int) {
		simd.BCERows(out[lo:hi], l[lo*cols:hi*cols], t[lo*cols:hi*cols], cols)
	}), nil
}

func fastBCEGrad(p *exec.Prep) (exec.Launch, error) {
	dl, l, t, g := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1]), data[float32](p.In[2])
	cols := p.In[0].Shape[1]
	return launch(len(g), max(1, 4096/cols), func(lo, hi int) {
		simd.BCEGrad(dl[lo*cols:hi*cols], l[lo*cols:hi*cols], t[lo*cols:hi*cols], g[lo:hi], cols)
	}), nil
}

// xentRows is the fewest rows of k logits worth a thread for the vectorised kernels.
func xentRows(k int) int { return max(1, fastGrain/max(k, 1)) }

func fastXentStats(p *exec.Prep) (exec.Launch, error) {
	st, l := data[float32](p.Out), data[float32](p.In[0])
	k := p.In[0].Shape[1]
	rows := len(st) / 2
	work := p.Scratch(exec.Float32, Threads()*k)
	var w []float32
	body := func(lo, hi int) {
		c := ChunkIndex(rows, xentRows(k), lo)
		simd.XentStats(st[2*lo:2*hi], l[lo*k:hi*k], k, w[c*k:(c+1)*k])
	}
	return func() error {
		w = scratch[float32](work)
		For(rows, xentRows(k), body)
		return nil
	}, nil
}

// fastXentGrad is softmax·g for every logit, then the label's term again in float64, where
// p − 1 does not cancel in float32 (as the reference does).
func fastXentGrad(p *exec.Prep) (exec.Launch, error) {
	dl, l, labels, st, g := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1]), data[float32](p.In[2]), data[float32](p.In[3])
	k := p.In[0].Shape[1]
	body := func(lo, hi int) {
		simd.XentGrad(dl[lo*k:hi*k], l[lo*k:hi*k], st[2*lo:2*hi], g[lo:hi], k)
		for r := lo; r < hi; r++ {
			j := int(labels[r])
			m, lse := float64(st[2*r]), float64(st[2*r+1])
			dl[r*k+j] = float32((math.Exp(float64(l[r*k+j])-m-lse) - 1) * float64(g[r]))
		}
	}
	return func() error {
		if err := checkLabels(labels, k); err != nil {
			return err
		}
		For(len(labels), xentRows(k), body)
		return nil
	}, nil
}

func fastGELU(grad bool) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		y, x := data[float32](p.Out), data[float32](p.In[0])
		if !grad {
			return launch(len(y), 1<<12, func(lo, hi int) { simd.GELU(y[lo:hi], x[lo:hi]) }), nil
		}
		dy := data[float32](p.In[1])
		return launch(len(y), 1<<12, func(lo, hi int) { simd.GELUGrad(y[lo:hi], x[lo:hi], dy[lo:hi]) }), nil
	}
}

// lnFastRows is the fewest rows of d features worth a thread.
func lnFastRows(d int) int { return max(1, fastGrain/(2*d)) }

func fastLNStats(p *exec.Prep) (exec.Launch, error) {
	eps := float32(p.Op.(exec.LayerNormStats).Eps)
	st, x := data[float32](p.Out), data[float32](p.In[0])
	d := p.In[0].Shape[1]
	return launch(len(st)/2, lnFastRows(d), func(lo, hi int) {
		simd.LNStats(st[2*lo:2*hi], x[lo*d:hi*d], d, eps)
	}), nil
}

func fastLN(p *exec.Prep) (exec.Launch, error) {
	y, x, gamma, beta, st := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1]), data[float32](p.In[2]), data[float32](p.In[3])
	d := p.In[0].Shape[1]
	return launch(len(x)/d, lnFastRows(d), func(lo, hi int) {
		simd.LNForward(y[lo*d:hi*d], x[lo*d:hi*d], gamma, beta, st[2*lo:2*hi], d)
	}), nil
}

func fastLNGradX(p *exec.Prep) (exec.Launch, error) {
	dx, x, gamma, st, dy := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1]), data[float32](p.In[2]), data[float32](p.In[3])
	d := p.In[0].Shape[1]
	return launch(len(x)/d, lnFastRows(d), func(lo, hi int) {
		simd.LNGradX(dx[lo*d:hi*d], x[lo*d:hi*d], gamma, st[2*lo:2*hi], dy[lo*d:hi*d], d)
	}), nil
}

// fastLNGradGamma sums dy·x̂ over fixed blocks of rows in parallel, then the blocks in
// order: the same sums whatever the thread count.
func fastLNGradGamma(p *exec.Prep) (exec.Launch, error) {
	y, x, st, dy := data[float32](p.Out), data[float32](p.In[0]), data[float32](p.In[1]), data[float32](p.In[2])
	d := p.In[0].Shape[1]
	rows := len(x) / d
	const block = 64
	blocks := (rows + block - 1) / block
	partS := p.Scratch(exec.Float32, blocks*d)
	var part []float32
	body := func(lo, hi int) {
		for bl := lo; bl < hi; bl++ {
			r0, r1 := bl*block, min((bl+1)*block, rows)
			acc := part[bl*d : (bl+1)*d]
			clear(acc)
			simd.LNGradGamma(acc, x[r0*d:r1*d], st[2*r0:2*r1], dy[r0*d:r1*d])
		}
	}
	return func() error {
		part = scratch[float32](partS)
		For(blocks, max(1, fastGrain/(block*d)), body)
		copy(y, part[:d])
		for bl := 1; bl < blocks; bl++ {
			simd.Add(y, y, part[bl*d:(bl+1)*d])
		}
		return nil
	}, nil
}

func fastSoftmaxRows(s []float32, rows, cols int, causal bool, mask []float32) {
	simd.SoftmaxRows(s[:rows*cols], cols, causal, 0, mask)
}

func fastSoftmaxGradRows(out, p, dp []float32, rows, cols int) {
	simd.SoftmaxGradRows(out[:rows*cols], p, dp, cols)
}

func fastLSTMFwdRows(tape, gates, cprev []float32, ldc, lo, hi, h int) {
	w := 6 * h
	simd.LSTMForward(tape[lo*w:hi*w], gates[lo*4*h:hi*4*h], cprev[lo*ldc:], ldc, hi-lo, h)
}

func fastLSTMBwdRows(da, dhNext, dcNext, tape, dtape, cprev []float32, ldc, lo, hi, h int) {
	w := 6 * h
	simd.LSTMBackward(da[lo*4*h:hi*4*h], dhNext[lo*h:hi*h], dcNext[lo*h:hi*h], tape[lo*w:hi*w], dtape[lo*w:hi*w],
		cprev[lo*ldc:], ldc, hi-lo, h)
}

// fastAdam is adamKernel's pass, vectorised.
func fastAdam(p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.AdamStep)
	w, g, m, v, avg, normsq := adamOperands[float32](p)
	var scale, shrink float32
	body := func(lo, hi int) {
		a := op.Args
		var av []float32
		if avg != nil {
			av = avg[lo:hi]
		}
		simd.Adam(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], av, scale, shrink, float32(a.Beta1), float32(a.Beta2),
			float32(a.StepSize), float32(a.InvSqrtBC2), float32(a.Eps), float32(a.AvgRate))
	}
	return func() error {
		s, d, ok := adamFactors(op, normsq)
		if !ok {
			return nil
		}
		scale, shrink = float32(s), float32(d)
		For(len(w), paramGrain, body)
		return nil
	}, nil
}

func fastEMA(p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.EMAStep)
	w, avg := data[float32](p.In[0]), data[float32](p.In[1])
	var d float32
	body := func(lo, hi int) { simd.EMA(avg[lo:hi], w[lo:hi], d) }
	return func() error {
		d = float32(*op.Rate)
		For(len(w), paramGrain, body)
		return nil
	}, nil
}

func fastSumSquares(p *exec.Prep) (exec.Launch, error) {
	out := data[float32](p.Out)
	xs := make([][]float32, len(p.In))
	for i, in := range p.In {
		xs[i] = data[float32](in)
	}
	return func() error {
		var sum float64
		for _, x := range xs {
			sum += simd.SumSquares(x)
		}
		out[0] = float32(sum)
		return nil
	}, nil
}
