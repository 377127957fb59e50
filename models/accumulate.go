package models

import (
	"fmt"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/graph"
)

// accumulator runs the forward and backward passes of one optimiser step over its
// micro-batches (grad_accum_steps of them) and hands the optimiser their mean gradient,
// so a step on k batches of B rows is the step on one batch of k·B, in k batches' memory.
type accumulator struct {
	params *graph.Params
	of     []*graph.Param // the parameters the gradients are of, in the optimiser's order
	mean   *graph.GradMean
	// fused holds, in a data-parallel run, the gradients (reduced: a view per parameter),
	// the metrics and the weight summed over the ranks.
	fused   []float32
	reduced [][]float32
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

// step runs p on each micro-batch and returns the mean of their metrics and gradients
// (for a single batch, its own, with no extra work), averaged over the ranks of a
// data-parallel run.
func (a *accumulator) step(bs []*datasets.Batch, p pass) (Metrics, [][]float32, error) {
	ms, grads, w, err := a.local(bs, p)
	if err != nil || dist.World().Size() == 1 {
		return ms, grads, err
	}
	return a.allRanks(ms, grads, w)
}

// weight is how many rows or tokens a micro-batch's loss averages over.
func (a *accumulator) weight(b *datasets.Batch) float64 {
	if a.weigh != nil {
		return a.weigh(b)
	}
	return float64(b.Items())
}

// local is step within this process: the metrics and gradients, and their weight.
func (a *accumulator) local(bs []*datasets.Batch, p pass) (Metrics, [][]float32, float64, error) {
	if len(bs) == 0 {
		return nil, nil, 0, fmt.Errorf("a training step needs at least one batch")
	}
	if len(bs) == 1 {
		ms, grads, err := p(bs[0])
		return ms, grads, a.weight(bs[0]), err
	}
	if a.mean == nil {
		var err error
		if a.mean, err = graph.NewGradMean(a.params, a.of); err != nil {
			return nil, nil, 0, err
		}
	}
	var mean Metrics
	var total float64
	a.mean.Start()
	for _, b := range bs {
		w := a.weight(b)
		ms, grads, err := p(b)
		if err != nil {
			return nil, nil, 0, err
		}
		if err := a.mean.Fold(grads, w); err != nil {
			return nil, nil, 0, err
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
	return mean, a.mean.Mean(), total, nil
}

// allRanks averages the step's gradients and metrics over the ranks, each weighted by its
// rows or tokens, in one all-reduce of one fused buffer (Horovod's tensor fusion, DDP's
// buckets): every parameter's gradient, then the metrics, then the weight, each scaled by
// this rank's weight; the sums divided by the total weight are the means one process
// would compute over the whole global batch. The optimiser then steps on the same
// gradients on every rank.
func (a *accumulator) allRanks(ms Metrics, grads [][]float32, w float64) (Metrics, [][]float32, error) {
	if a.fused == nil {
		n := len(ms) + 1
		for _, g := range grads {
			n += len(g)
		}
		if err := a.params.Reserve("data-parallel gradients", int64(n)*4); err != nil {
			return nil, nil, err
		}
		a.fused = make([]float32, n)
		off := 0
		for _, g := range grads {
			a.reduced = append(a.reduced, a.fused[off:off+len(g):off+len(g)])
			off += len(g)
		}
	}
	if err := graph.ToHost(grads...); err != nil { // a device's gradients, to be sent
		return nil, nil, err
	}
	tail := a.fused[len(a.fused)-len(ms)-1:]
	if w == 0 { // this rank's part of the last batch was empty: it adds nothing
		clear(a.fused)
	} else {
		for i, g := range grads {
			r := a.reduced[i]
			for j, v := range g {
				r[j] = v * float32(w)
			}
		}
		for j, m := range ms {
			tail[j] = float32(m.Value * w)
		}
		tail[len(ms)] = float32(w)
	}
	if err := dist.World().AllReduce32(a.fused); err != nil {
		return nil, nil, fmt.Errorf("summing gradients over the ranks: %w", err)
	}
	inv := 1 / tail[len(ms)]
	for i := range a.fused {
		a.fused[i] *= inv
	}
	for j := range ms { // the step's metrics are this step's own: replaced in place
		ms[j].Value = float64(tail[j])
	}
	if err := graph.ToDevice(a.reduced...); err != nil {
		return nil, nil, err
	}
	return ms, a.reduced, nil
}
