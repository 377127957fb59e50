package graph

import (
	"fmt"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/graph/exec"
)

// EMAPrefix starts the checkpoint names of averaged weights: "ema.fc1.weight".
const EMAPrefix = "ema."

// EMA keeps an exponential moving average of parameters (Polyak averaging). Adam at a
// constant learning rate leaves the weights jittering around where the loss keeps
// falling; their running average is a better model than the last iterate, at no cost to
// training, so evaluation and sampling use it when a run asks for one.
//
// An optimiser the average is attached to (Adam.Average) updates it in its own pass over
// the parameters; Update then only counts. The rest, and Swap, are programs on the
// executor's device.
type EMA struct {
	Decay   float64
	Updates int // updates taken, for the warm-up of the decay
	params  []*Param
	avg     [][]float32
	fused   []bool  // averaged by their optimiser's step
	d       float64 // this update's rate, read by the update program
	update  *exec.Program
	swap    *exec.Program
}

// NewEMA starts averages of params at their current values.
func NewEMA(params []*Param, decay float64) *EMA {
	e := &EMA{Decay: decay, params: params, fused: make([]bool, len(params))}
	for _, p := range params {
		if err := ToHost(p.Data()); err != nil {
			panic(fmt.Sprintf("ema: reading %s from the device: %v", p.Name, err))
		}
		e.avg = append(e.avg, append([]float32(nil), p.Data()...))
	}
	return e
}

// rate is the decay of update number t (1-based). Early on it is lower (TensorFlow's
// ExponentialMovingAverage with num_updates), so the average soon forgets the
// initialisation instead of lagging it for 1/(1-Decay) steps.
func (e *EMA) rate(t int) float64 {
	return min(e.Decay, float64(1+t)/float64(10+t))
}

// of returns the average of p.
func (e *EMA) of(p *Param) []float32 {
	for i, q := range e.params {
		if q == p {
			return e.avg[i]
		}
	}
	panic("graph: no average of " + p.Name)
}

// fuse marks p as averaged by its optimiser's step.
func (e *EMA) fuse(p *Param) {
	for i, q := range e.params {
		if q == p {
			e.fused[i] = true
			e.update = nil
		}
	}
}

// Update folds the parameters' current values into the averages; call it after each
// optimiser step.
func (e *EMA) Update() {
	e.Updates++
	e.d = e.rate(e.Updates)
	if e.update == nil {
		g := &exec.Graph{}
		for i, p := range e.params {
			if !e.fused[i] {
				n := len(e.avg[i])
				g.Update(exec.EMAStep{Rate: &e.d}, "EMA "+p.Name, g.Leaf(p.Data(), false, n), g.Leaf(e.avg[i], false, n))
			}
		}
		e.update = mustCompile(g)
	}
	if err := e.update.Run(); err != nil {
		panic(err)
	}
}

// Swap exchanges the parameters' values with the averages: call it once to evaluate or
// sample with the averaged weights, and again to go back to training.
func (e *EMA) Swap() {
	if e.swap == nil {
		g := &exec.Graph{}
		for i, p := range e.params {
			n := len(e.avg[i])
			g.Update(exec.Swap{}, "Swap "+p.Name, g.Leaf(p.Data(), false, n), g.Leaf(e.avg[i], false, n))
		}
		e.swap = mustCompile(g)
	}
	if err := e.swap.Run(); err != nil {
		panic(err)
	}
}

// mustCompile compiles an optimiser's program, which over float32 buffers of matching
// sizes cannot fail but for a device without its kernels.
func mustCompile(g *exec.Graph) *exec.Program {
	p, err := exec.Compile(device, g)
	if err != nil {
		panic(fmt.Sprintf("graph: %v", err))
	}
	return p
}

// State returns the averages as checkpoint tensors named EMAPrefix + the parameter's
// name. They alias the live state, brought to the host from the device.
func (e *EMA) State() []checkpoints.Tensor {
	if err := ToHost(e.avg...); err != nil {
		panic(fmt.Sprintf("ema: reading the averages from the device: %v", err))
	}
	ts := make([]checkpoints.Tensor, len(e.params))
	for i, p := range e.params {
		ts[i] = checkpoints.Tensor{Name: EMAPrefix + p.Name, Shape: p.Shape(), Data: e.avg[i]}
	}
	return ts
}

// LoadState copies averages read from a checkpoint into e.
func (e *EMA) LoadState(take func(name string, shape []int) ([]float32, error), updates int) error {
	if updates < 0 {
		return fmt.Errorf("ema: negative update count %d", updates)
	}
	for i, p := range e.params {
		data, err := take(EMAPrefix+p.Name, p.Shape())
		if err != nil {
			return err
		}
		copy(e.avg[i], data)
	}
	e.Updates = updates
	return ToDevice(e.avg...)
}
