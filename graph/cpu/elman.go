package cpu

import (
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// The Elman recurrence over a window, as one instruction: the input projection of every
// step is one product, then each step adds one [B, H]·[H, H] product and the activation
// in place; backpropagation through time is the mirror image. The RNN of the tutorial is
// a chain of 193×128 products, far too small to keep a machine busy one node at a time.

func init() {
	register("ElmanSequence", elmanKernel(tanhRange[float32]), elmanKernel(tanhRange[float64]))
	register("ElmanSequenceGrad", elmanGradKernel(tanhDerivRange[float32]), elmanGradKernel(tanhDerivRange[float64]))
}

// elmanDims returns T, B, In and H of an ElmanSequence over x [T·B, In] and w [H, In+H].
func elmanDims(steps int, x, w []int) (t, b, in, h int) {
	h = w[0]
	return steps, x[0] / steps, w[1] - h, h
}

// tanhRange is x = tanh x in place.
func tanhRange[T float](x []T) {
	if isFloat32[T]() {
		for i, v := range x {
			x[i] = tanhT(v)
		}
		return
	}
	for i, v := range x {
		x[i] = T(math.Tanh(float64(v)))
	}
}

// tanhDerivRange is d ⊙= 1 − y², tanh's derivative from its output y.
func tanhDerivRange[T float](d, y []T) {
	y = y[:len(d)]
	for i := range d {
		d[i] *= 1 - y[i]*y[i]
	}
}

// elmanKernel: states[0] = h0; states[1..T] = x·W_xᵀ + b (one product); then for each
// step, states[t] += states[t−1]·W_hᵀ and the activation.
func elmanKernel[T float](act func(x []T)) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) { return elmanPrep(p, act) }
}

func elmanPrep[T float](p *exec.Prep, tanh func(x []T)) (exec.Launch, error) {
	op := p.Op.(exec.ElmanSequence)
	st := data[T](p.Out)
	x, h0, w, bias := data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
	steps, b, in, h := elmanDims(op.Steps, p.In[0].Shape, p.In[2].Shape)
	ld := in + h
	rows := steps * b
	var t int // the step the activation runs on
	act := func(lo, hi int) { tanh(st[t*b*h+lo : t*b*h+hi]) }
	return func() error {
		copy(st[:b*h], h0)
		proj := st[b*h:]
		for r := range rows {
			copy(proj[r*h:(r+1)*h], bias)
		}
		Gemm(false, true, rows, h, in, 1, x, in, w, ld, 1, proj, h)
		for t = 1; t <= steps; t++ {
			Gemm(false, true, b, h, h, 1, st[(t-1)*b*h:], h, w[in:], ld, 1, st[t*b*h:], h)
			if op.Tanh {
				For(b*h, elemGrain, act)
			}
		}
		return nil
	}, nil
}

// elmanGradKernel: from the top, dpre_t = (dstates[t] + dpre_{t+1}·W_h) ⊙ act'(h_t), and
// h0's gradient dstates[0] + dpre_1·W_h.
func elmanGradKernel[T float](deriv func(d, y []T)) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) { return elmanGradPrep(p, deriv) }
}

func elmanGradPrep[T float](p *exec.Prep, tanhDeriv func(d, y []T)) (exec.Launch, error) {
	op := p.Op.(exec.ElmanSequenceGrad)
	out := data[T](p.Out)
	w, st, dst := data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2])
	h := p.In[0].Shape[0]
	in := p.In[0].Shape[1] - h
	ld := in + h
	b := p.In[1].Shape[0] / (op.Steps + 1)
	steps := op.Steps
	var t int // the step the derivative is applied at
	deriv := func(lo, hi int) { tanhDeriv(out[t*b*h+lo:t*b*h+hi], st[t*b*h+lo:t*b*h+hi]) }
	return func() error {
		copy(out, dst)
		for t = steps; t >= 1; t-- {
			if t < steps { // the gradient through step t+1's recurrent product
				Gemm(false, false, b, h, h, 1, out[(t+1)*b*h:], h, w[in:], ld, 1, out[t*b*h:], h)
			}
			if op.Tanh {
				For(b*h, elemGrain, deriv)
			}
		}
		if steps >= 1 {
			Gemm(false, false, b, h, h, 1, out[b*h:], h, w[in:], ld, 1, out[:b*h], h)
		}
		return nil
	}, nil
}
