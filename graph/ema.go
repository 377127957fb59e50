package graph

import (
	"fmt"

	"github.com/aigc-go/aigc/checkpoints"
)

// EMAPrefix starts the checkpoint names of averaged weights: "ema.fc1.weight".
const EMAPrefix = "ema."

// EMA keeps an exponential moving average of parameters (Polyak averaging). Adam at a
// constant learning rate leaves the weights jittering around where the loss keeps
// falling; their running average is a better model than the last iterate, at no cost to
// training, so evaluation and sampling use it when a run asks for one.
type EMA struct {
	Decay   float64
	Updates int // updates taken, for the warm-up of the decay
	params  []*Param
	avg     [][]float32
}

// NewEMA starts averages of params at their current values.
func NewEMA(params []*Param, decay float64) *EMA {
	e := &EMA{Decay: decay, params: params}
	for _, p := range params {
		e.avg = append(e.avg, append([]float32(nil), p.Data()...))
	}
	return e
}

// rate is the decay of update number t (1-based). Early on it is lower (TensorFlow's
// ExponentialMovingAverage with num_updates), so the average soon forgets the
// initialisation instead of lagging it for 1/(1-Decay) steps.
func (e *EMA) rate(t int) float32 {
	return float32(min(e.Decay, float64(1+t)/float64(10+t)))
}

// Update folds the parameters' current values into the averages; call it after each
// optimiser step.
func (e *EMA) Update() {
	e.Updates++
	d := e.rate(e.Updates)
	for i, p := range e.params {
		w, a := p.Data(), e.avg[i]
		parallelFor(len(w), 1<<15, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				a[j] = d*a[j] + (1-d)*w[j]
			}
		})
	}
}

// Swap exchanges the parameters' values with the averages: call it once to evaluate or
// sample with the averaged weights, and again to go back to training.
func (e *EMA) Swap() {
	for i, p := range e.params {
		w, a := p.Data(), e.avg[i]
		for j := range w {
			w[j], a[j] = a[j], w[j]
		}
	}
}

// State returns the averages as checkpoint tensors named EMAPrefix + the parameter's
// name. They alias the live state.
func (e *EMA) State() []checkpoints.Tensor {
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
	return nil
}
