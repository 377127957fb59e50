package models

import (
	"context"
	"fmt"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
)

// evalStream is the RNG stream of evaluation noise. Every evaluation starts it afresh, so
// evaluations are comparable across epochs and never disturb the training RNG, whatever
// they draw.
const evalStream = 1 << 40

// evalRNG returns the generator of an evaluation's noise.
func evalRNG(seed uint64) *rng.RNG { return rng.Stream(seed, evalStream) }

// batchSums is what a model computes on one evaluation batch: the sum of each metric over
// the batch's valid rows.
type batchSums func(b *datasets.Batch, r *rng.RNG) (Metrics, error)

// meanOverBatches returns the mean per example of each metric over one pass of s.
func meanOverBatches(ctx context.Context, s datasets.Stream, seed uint64, step batchSums) (Metrics, error) {
	r := evalRNG(seed)
	var total Metrics
	n := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for b := range s.Epoch(ctx, 0, 0) {
		sums, err := step(b, r)
		valid := b.Valid
		b.Release()
		if err != nil {
			return nil, err
		}
		if total == nil {
			total = make(Metrics, len(sums))
			for i, s := range sums {
				total[i].Name = s.Name
			}
		}
		for i, s := range sums {
			total[i].Value += s.Value
		}
		n += valid
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("evaluation set is empty")
	}
	for i := range total {
		total[i].Value /= float64(n)
	}
	return total, nil
}
