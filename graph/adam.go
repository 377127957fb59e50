package graph

import (
	"fmt"
	"math"

	"github.com/aigc-go/aigc/checkpoints"
)

// AdamConfig holds Adam's hyperparameters.
type AdamConfig struct {
	LR, Beta1, Beta2, Eps float64
	// WeightDecay makes the optimiser AdamW (Loshchilov & Hutter): before each update the
	// parameters that Decays selects shrink by lr·WeightDecay, decoupled from the gradient.
	WeightDecay float64
	// Decays chooses the parameters weight decay applies to; nil means all. Transformers
	// exempt biases, norms and embeddings.
	Decays func(*Param) bool
}

// Adam is torch.optim.Adam (Kingma & Ba, with bias correction) updating float32
// parameters in place. Gorgonia's own solvers clone tensors on every step; this one
// allocates nothing after construction.
type Adam struct {
	AdamConfig
	Steps  int // updates taken, for the bias correction
	params []*Param
	m, v   [][]float32 // first and second moment estimates, one per parameter
}

// NewAdam returns an optimiser for params with zero moments.
func NewAdam(params []*Param, cfg AdamConfig) *Adam {
	a := &Adam{AdamConfig: cfg, params: params}
	for _, p := range params {
		a.m = append(a.m, make([]float32, p.Value.Size()))
		a.v = append(a.v, make([]float32, p.Value.Size()))
	}
	return a
}

// Update applies one step given each parameter's gradient, in the order of params.
func (a *Adam) Update(grads [][]float32) {
	a.Steps++
	t := float64(a.Steps)
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	// As PyTorch: p -= lr/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + ε)
	stepSize := float32(a.LR / (1 - math.Pow(a.Beta1, t)))
	invSqrtBC2 := float32(1 / math.Sqrt(1-math.Pow(a.Beta2, t)))
	eps := float32(a.Eps)
	for i, p := range a.params {
		w, g, m, v := p.Data(), grads[i], a.m[i], a.v[i]
		if a.WeightDecay > 0 && (a.Decays == nil || a.Decays(p)) {
			shrink := float32(1 - a.LR*a.WeightDecay) // torch.optim.AdamW's order: decay, then step
			for j := range w {
				w[j] *= shrink
			}
		}
		// Memory-bound: four arrays streamed once, split among threads when large.
		parallelFor(len(w), 1<<15, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				gj := g[j]
				m[j] = b1*m[j] + (1-b1)*gj
				v[j] = b2*v[j] + (1-b2)*gj*gj
				w[j] -= stepSize * m[j] / (float32(math.Sqrt(float64(v[j])))*invSqrtBC2 + eps)
			}
		})
	}
}

// State returns the moments as checkpoint tensors named like PyTorch's optimizer state:
// "optim.exp_avg.<param>" and "optim.exp_avg_sq.<param>". They alias the live state.
func (a *Adam) State() []checkpoints.Tensor {
	var ts []checkpoints.Tensor
	for i, p := range a.params {
		ts = append(ts,
			checkpoints.Tensor{Name: "optim.exp_avg." + p.Name, Shape: p.Shape(), Data: a.m[i]},
			checkpoints.Tensor{Name: "optim.exp_avg_sq." + p.Name, Shape: p.Shape(), Data: a.v[i]})
	}
	return ts
}

// LoadState copies moments read from a checkpoint into the optimiser.
func (a *Adam) LoadState(take func(name string, shape []int) ([]float32, error), steps int) error {
	for i, p := range a.params {
		for _, s := range []struct {
			name string
			dst  []float32
		}{{"optim.exp_avg." + p.Name, a.m[i]}, {"optim.exp_avg_sq." + p.Name, a.v[i]}} {
			data, err := take(s.name, p.Shape())
			if err != nil {
				return err
			}
			copy(s.dst, data)
		}
	}
	if steps < 0 {
		return fmt.Errorf("adam: negative step count %d", steps)
	}
	a.Steps = steps
	return nil
}
