package models

import (
	"context"
	"fmt"
	"iter"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/internal/rng"
)

// evalStream is the RNG stream of evaluation noise. Every evaluation starts it afresh, so
// evaluations are comparable across epochs and never disturb the training RNG, whatever
// they draw.
const evalStream = 1 << 40

// evalRNG returns the generator of an evaluation's noise.
func evalRNG(seed uint64) *rng.RNG { return rng.Stream(seed, evalStream) }

// batchRNG returns the generator of the noise of evaluation batch i: a stream of its own,
// so that the batches can be shared out between the ranks of a data-parallel run. As in
// training, a batch is one part of a global batch (of all the ranks' rows, and of the
// grad_accum_steps micro-batches a step takes) and draws that part of its noise: what
// one process evaluating with the whole global batch at once draws, however the run is
// split.
func batchRNG(seed uint64, i, accum int) *rng.RNG {
	n := dist.World().Size() * max(1, accum)
	r := rng.Stream(seed, evalStream+1+uint64(i/n))
	if n > 1 {
		r.Shard(i%n, n)
	}
	return r
}

// ownBatches streams the batches of one pass of s that this process evaluates: all of
// them, or in a data-parallel run every size-th from its rank (the others are released
// unseen); the caller adds its sums to the other ranks' with addRanks.
func ownBatches(ctx context.Context, s datasets.Stream) iter.Seq[*datasets.Batch] {
	c := dist.World()
	return func(yield func(*datasets.Batch) bool) {
		for b := range s.Epoch(ctx, 0, 0) {
			if b.Index%c.Size() != c.Rank() {
				b.Release()
				continue
			}
			if !yield(b) {
				return
			}
		}
	}
}

// addRanks sums an evaluation's totals over the ranks of a data-parallel run (nothing to
// do alone), so every rank ends with the whole evaluation's.
func addRanks(totals []float64) error {
	if err := dist.World().AllReduce(totals); err != nil {
		return fmt.Errorf("evaluation: %w", err)
	}
	return nil
}

// batchSums is what a model computes on one evaluation batch: the sum of each of its
// metrics over the batch's valid rows, in the order of their names.
type batchSums func(b *datasets.Batch, r *rng.RNG) ([]float64, error)

// meanOverBatches returns the mean per example of each named metric over one pass of s,
// for a model that trains with accum micro-batches a step.
func meanOverBatches(ctx context.Context, s datasets.Stream, seed uint64, accum int, names []string, step batchSums) (Metrics, error) {
	totals := make([]float64, len(names)+1) // each metric's sum, then the examples counted
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for b := range ownBatches(ctx, s) {
		sums, err := step(b, batchRNG(seed, b.Index, accum))
		valid := b.Valid
		b.Release()
		if err != nil {
			return nil, err
		}
		for i, v := range sums {
			totals[i] += v
		}
		totals[len(names)] += float64(valid)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := addRanks(totals); err != nil {
		return nil, err
	}
	n := totals[len(names)]
	if n == 0 {
		return nil, fmt.Errorf("evaluation set is empty")
	}
	out := make(Metrics, len(names))
	for i, name := range names {
		out[i] = Metric{name, totals[i] / n}
	}
	return out, nil
}
