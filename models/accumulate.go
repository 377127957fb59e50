package models

import (
	"fmt"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
)

// accumulator runs the forward and backward passes of one optimiser step over its
// micro-batches (grad_accum_steps of them) and hands the optimiser their mean gradient,
// so a step on k batches of B rows is the step on one batch of k·B, in k batches' memory.
type accumulator struct {
	params *graph.Params
	of     []*graph.Param // the parameters the gradients are of, in the optimiser's order
	mean   *graph.GradMean
	// weigh says how many rows or tokens a micro-batch's loss averages over, its share of
	// the step's mean (default: its real rows, or for tokens its real targets).
	weigh func(b *datasets.Batch) float64
}

// accumulate makes the accumulator of opt's gradients (its memory is taken from ps when a
// step first has more than one micro-batch).
func accumulate(ps *graph.Params, opt *graph.Adam) accumulator {
	return accumulator{params: ps, of: opt.Params()}
}

// pass is one micro-batch's forward and backward pass: its metrics and its gradients
// (which the next pass may overwrite).
type pass func(b *datasets.Batch) (Metrics, [][]float32, error)

// step runs p on each micro-batch and returns the mean of their metrics and gradients;
// for a single batch, its own, with no extra work.
func (a *accumulator) step(bs []*datasets.Batch, p pass) (Metrics, [][]float32, error) {
	if len(bs) == 0 {
		return nil, nil, fmt.Errorf("a training step needs at least one batch")
	}
	if len(bs) == 1 {
		return p(bs[0])
	}
	if a.mean == nil {
		var err error
		if a.mean, err = graph.NewGradMean(a.params, a.of); err != nil {
			return nil, nil, err
		}
	}
	var mean Metrics
	var total float64
	a.mean.Start()
	for _, b := range bs {
		w := float64(b.Items())
		if a.weigh != nil {
			w = a.weigh(b)
		}
		ms, grads, err := p(b)
		if err != nil {
			return nil, nil, err
		}
		if err := a.mean.Fold(grads, w); err != nil {
			return nil, nil, err
		}
		if mean == nil {
			mean = make(Metrics, len(ms))
			for j, m := range ms {
				mean[j].Name = m.Name
			}
		}
		total += w
		for j, m := range ms { // the same weighted running mean as the gradients'
			mean[j].Value += (m.Value - mean[j].Value) * w / total
		}
	}
	return mean, a.mean.Mean(), nil
}
