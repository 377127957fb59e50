package graph

import (
	"fmt"

	"github.com/aigc-go/aigc/graph/exec"
)

// GradMean averages gradients over the micro-batches of one optimiser step (gradient
// accumulation, nanoGPT's gradient_accumulation_steps), on the executor's device.
// Each micro-batch's loss is a mean over its own rows or tokens, w of them; micro-batch i
// folds its gradients g into the running weighted mean m as
//
//	m ← (W/(W+w))·m + (w/(W+w))·g,   W the weight folded before it
//
// (the moving average's EMAStep at rate W/(W+w), so every device already has the
// kernel). After the last, m is the gradient of the mean loss over all the micro-batches'
// rows (or tokens): the optimiser steps on it exactly as on one large batch's gradient.
type GradMean struct {
	params []*Param
	mean   [][]float32
	folded float64 // W: the weight folded into mean in this step
	rate   float64 // this fold's rate, read by the program at launch
	progs  []gradFold
}

// gradFold is the compiled fold of one set of gradient buffers.
type gradFold struct {
	grads [][]float32
	prog  *exec.Program
}

// NewGradMean makes the mean's buffers for params, taking their memory from the set's
// budget (ps: the model's parameters, which release it when the model closes).
func NewGradMean(ps *Params, params []*Param) (*GradMean, error) {
	var bytes int64
	for _, p := range params {
		bytes += int64(p.Value.Size()) * 4
	}
	if err := ps.Reserve("gradient accumulation", bytes); err != nil {
		return nil, err
	}
	a := &GradMean{params: params}
	for _, p := range params {
		a.mean = append(a.mean, make([]float32, p.Value.Size()))
	}
	return a, nil
}

// Start begins a step: the next Fold replaces the mean.
func (a *GradMean) Start() { a.folded = 0 }

// Fold adds the gradients (in the order of params) of a micro-batch whose loss averages
// over w rows or tokens to the mean.
func (a *GradMean) Fold(grads [][]float32, w float64) error {
	if !(w > 0) {
		return fmt.Errorf("gradient accumulation: a micro-batch of weight %g", w)
	}
	p, err := a.program(grads)
	if err != nil {
		return err
	}
	a.rate = a.folded / (a.folded + w)
	a.folded += w
	return p.Run()
}

// Mean returns the mean gradients, in the order of params, after the folds of a step.
func (a *GradMean) Mean() [][]float32 { return a.mean }

func (a *GradMean) program(grads [][]float32) (*exec.Program, error) {
	if len(grads) != len(a.params) {
		return nil, fmt.Errorf("gradient accumulation: %d gradients for %d parameters", len(grads), len(a.params))
	}
	for _, f := range a.progs {
		if sameMemory(f.grads, grads) {
			return f.prog, nil
		}
	}
	g := &exec.Graph{}
	for i, p := range a.params {
		n := len(a.mean[i])
		if len(grads[i]) != n {
			return nil, fmt.Errorf("gradient accumulation: gradient of %s has %d values, want %d", p.Name, len(grads[i]), n)
		}
		g.Update(exec.EMAStep{Rate: &a.rate}, "GradMean "+p.Name, g.Leaf(grads[i], false, n), g.Leaf(a.mean[i], false, n))
	}
	prog, err := exec.Compile(device, g)
	if err != nil {
		return nil, fmt.Errorf("gradient accumulation: %w", err)
	}
	a.progs = append(a.progs, gradFold{append([][]float32(nil), grads...), prog})
	return prog, nil
}
