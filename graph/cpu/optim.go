package cpu

import (
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// The optimiser step: the squared global norm of the gradients, Adam(W) fused with
// clipping and the moving average of the weights, and the average's own update and swap.

func init() {
	register("SumSquares", sumSquaresKernel[float32], sumSquaresKernel[float64])
	register("AdamStep", adamKernel[float32], adamKernel[float64])
	register("EMAStep", emaKernel[float32], emaKernel[float64])
	register("Swap", swapKernel[float32], swapKernel[float64])
}

// paramGrain is the fewest parameters worth a thread: the update is memory-bound.
const paramGrain = 1 << 15

// sumSquaresKernel is Σ x² over every input, each input summed in float64 in a fixed
// order.
func sumSquaresKernel[T float](p *exec.Prep) (exec.Launch, error) {
	out := data[T](p.Out)
	xs := make([][]T, len(p.In))
	for i, in := range p.In {
		xs[i] = data[T](in)
	}
	return func() error {
		var sum float64
		for _, x := range xs {
			var s float64
			for _, v := range x {
				s += float64(v) * float64(v)
			}
			sum += s
		}
		out[0] = T(sum)
		return nil
	}, nil
}

// ClipScale returns the factor that clips a gradient of squared global norm normsq to
// limit (PyTorch's limit/(norm+1e-6) when the norm exceeds it, else 1), and false when
// the norm is not finite (no step is taken).
func ClipScale(normsq, limit float64) (float64, bool) {
	norm := math.Sqrt(normsq)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return 0, false
	}
	if limit > 0 && norm > limit {
		return limit / (norm + 1e-6), true
	}
	return 1, true
}

// adamOperands are an AdamStep's buffers: parameter, gradient, the two moments, then the
// moving average and the squared gradient norm when the step has them (nil otherwise).
func adamOperands[T float](p *exec.Prep) (w, g, m, v, avg, normsq []T) {
	op := p.Op.(exec.AdamStep)
	w, g, m, v = data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
	next := 4
	if op.Avg {
		avg = data[T](p.In[next])
		next++
	}
	if op.Norm {
		normsq = data[T](p.In[next])
	}
	return
}

// adamFactors are what an AdamStep multiplies the gradient (clipping) and the parameter
// (AdamW's decay) by this step, and false when the gradient's norm is not finite and no
// step is taken.
func adamFactors[T float](op exec.AdamStep, normsq []T) (scale, shrink float64, ok bool) {
	scale, shrink = 1, 1
	if op.Norm {
		if scale, ok = ClipScale(float64(normsq[0]), op.Args.Clip); !ok {
			return 0, 0, false
		}
	}
	if op.Decay && op.Args.WeightDecay > 0 {
		shrink = 1 - op.Args.LR*op.Args.WeightDecay
	}
	return scale, shrink, true
}

// adamKernel is one pass over a parameter: torch.optim.Adam(W)'s update with bias
// correction, p −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε), after AdamW's decay (decay first,
// then step, as torch.optim.AdamW), on the gradient scaled by the clipping factor, then
// the moving average.
func adamKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.AdamStep)
	w, g, m, v, avg, normsq := adamOperands[T](p)
	var scale, shrink, b1, b2, stepSize, invBC2, eps, rate T
	body := func(lo, hi int) {
		for j := lo; j < hi; j++ {
			gj := g[j] * scale
			wj := w[j] * shrink
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			wj -= stepSize * m[j] / (T(math.Sqrt(float64(v[j])))*invBC2 + eps)
			w[j] = wj
			if avg != nil {
				avg[j] = rate*avg[j] + (1-rate)*wj
			}
		}
	}
	return func() error {
		a := op.Args
		s, d, ok := adamFactors(op, normsq)
		if !ok {
			return nil
		}
		scale, shrink = T(s), T(d)
		b1, b2, eps = T(a.Beta1), T(a.Beta2), T(a.Eps)
		stepSize, invBC2, rate = T(a.StepSize), T(a.InvSqrtBC2), T(a.AvgRate)
		For(len(w), paramGrain, body)
		return nil
	}, nil
}

func emaKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.EMAStep)
	w, avg := data[T](p.In[0]), data[T](p.In[1])
	var d T
	body := func(lo, hi int) {
		for j := lo; j < hi; j++ {
			avg[j] = d*avg[j] + (1-d)*w[j]
		}
	}
	return func() error {
		d = T(*op.Rate)
		For(len(w), paramGrain, body)
		return nil
	}, nil
}

func swapKernel[T float](p *exec.Prep) (exec.Launch, error) {
	a, b := data[T](p.In[0]), data[T](p.In[1])
	return launch(len(a), paramGrain, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			a[j], b[j] = b[j], a[j]
		}
	}), nil
}
