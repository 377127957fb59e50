package graph

import (
	"fmt"
	"math"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/graph/exec"
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
// parameters in place. Its step is a program on the executor's device: for each
// parameter one fused pass (the gradient's clipping factor, AdamW's decay, the moments,
// the update and, when a moving average is attached, the average), so on a GPU the
// parameters, gradients and moments never leave it. It allocates nothing per step.
type Adam struct {
	AdamConfig
	Steps  int // updates taken, for the bias correction
	params []*Param
	m, v   [][]float32 // first and second moment estimates, one per parameter
	avg    *EMA        // averaged in the same pass, when attached
	args   exec.AdamArgs
	progs  []*adamProgram // compiled steps, by the gradients and the clipping they serve
}

// adamProgram is a compiled step for one set of gradient buffers.
type adamProgram struct {
	grads [][]float32
	norm  bool // measures the global norm (and clips to args.Clip)
	prog  *exec.Program
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

// Params returns the parameters the optimiser updates, in the order of its gradients.
func (a *Adam) Params() []*Param { return a.params }

// Update applies one step given each parameter's gradient, in the order of params.
func (a *Adam) Update(grads [][]float32) {
	if _, err := a.step(grads, false, 0); err != nil {
		panic(err) // a step over float32 buffers of the right sizes cannot fail
	}
}

// Clipped measures the gradients' global norm (over all of them, as
// torch.nn.utils.clip_grad_norm_), scales them by maxNorm/‖g‖ inside the step when the
// norm exceeds maxNorm (0: no clipping), and takes the step, unless the norm is not finite:
// then nothing changes (the trainer stops on the returned norm). It returns the norm
// before clipping.
func (a *Adam) Clipped(grads [][]float32, maxNorm float64) float64 {
	norm, err := a.step(grads, true, maxNorm)
	if err != nil {
		panic(err)
	}
	return norm
}

func (a *Adam) step(grads [][]float32, norm bool, clip float64) (float64, error) {
	p, err := a.program(grads, norm)
	if err != nil {
		return 0, err
	}
	a.Steps++
	t := float64(a.Steps)
	a.args = exec.AdamArgs{LR: a.LR, Beta1: a.Beta1, Beta2: a.Beta2, Eps: a.Eps, WeightDecay: a.WeightDecay,
		// As PyTorch: p −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
		StepSize:   a.LR / (1 - math.Pow(a.Beta1, t)),
		InvSqrtBC2: 1 / math.Sqrt(1-math.Pow(a.Beta2, t)),
		Clip:       clip,
	}
	if a.avg != nil {
		a.args.AvgRate = a.avg.rate(a.avg.Updates + 1) // the update the trainer counts after the step
	}
	if err := p.prog.Run(); err != nil {
		return 0, err
	}
	if !norm {
		return 0, nil
	}
	n := math.Sqrt(float64(p.prog.Output(0).([]float32)[0]))
	if math.IsNaN(n) || math.IsInf(n, 0) {
		a.Steps-- // the device skipped the update
	}
	return n, nil
}

// program returns the compiled step for these gradient buffers, compiling it the first
// time (a model's gradients live in its program's outputs, the same memory every step).
func (a *Adam) program(grads [][]float32, norm bool) (*adamProgram, error) {
	if len(grads) != len(a.params) {
		return nil, fmt.Errorf("adam: %d gradients for %d parameters", len(grads), len(a.params))
	}
	for _, p := range a.progs {
		if p.norm == norm && sameMemory(p.grads, grads) {
			return p, nil
		}
	}
	g := &exec.Graph{}
	var gs []int
	for i, p := range a.params {
		if len(grads[i]) != p.Value.Size() {
			return nil, fmt.Errorf("adam: gradient of %s has %d values, want %d", p.Name, len(grads[i]), p.Value.Size())
		}
		gs = append(gs, g.Leaf(grads[i], false, len(grads[i])))
	}
	normsq := -1
	if norm {
		normsq = g.Apply(exec.SumSquares{}, "GlobalNorm", exec.Float32, nil, gs...)
		g.Outputs = []int{normsq}
	}
	for i, p := range a.params {
		n := len(a.m[i])
		ins := []int{g.Leaf(p.Data(), false, n), gs[i], g.Leaf(a.m[i], false, n), g.Leaf(a.v[i], false, n)}
		if a.avg != nil {
			ins = append(ins, g.Leaf(a.avg.of(p), false, n))
		}
		if norm {
			ins = append(ins, normsq)
		}
		op := exec.AdamStep{Args: &a.args, Decay: a.WeightDecay > 0 && (a.Decays == nil || a.Decays(p)),
			Avg: a.avg != nil, Norm: norm}
		g.Update(op, "Adam "+p.Name, ins...)
	}
	prog, err := exec.Compile(device, g)
	if err != nil {
		return nil, fmt.Errorf("adam: %w", err)
	}
	p := &adamProgram{grads: append([][]float32(nil), grads...), norm: norm, prog: prog}
	a.progs = append(a.progs, p)
	return p, nil
}

// sameMemory reports whether two lists of slices are the same memory, slice by slice.
func sameMemory(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) || len(a[i]) > 0 && &a[i][0] != &b[i][0] {
			return false
		}
	}
	return true
}

// Average makes every step also update e's averages of this optimiser's parameters, in
// the same pass over them; e.Update then only counts the update for them.
func (a *Adam) Average(e *EMA) {
	a.avg = e
	a.progs = nil
	for _, p := range a.params {
		e.fuse(p)
	}
}

// State returns the moments as checkpoint tensors named like PyTorch's optimizer state:
// "optim.exp_avg.<param>" and "optim.exp_avg_sq.<param>". They alias the live state,
// brought to the host from the device.
func (a *Adam) State() []checkpoints.Tensor {
	if err := ToHost(append(append([][]float32(nil), a.m...), a.v...)...); err != nil {
		panic(fmt.Sprintf("adam: reading the moments from the device: %v", err))
	}
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
	return ToDevice(append(append([][]float32(nil), a.m...), a.v...)...)
}
