package train

import (
	"context"
	"fmt"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
)

// evalStream is the RNG stream of evaluation noise. Every evaluation starts it afresh, so
// evaluations are comparable across epochs and never disturb the training RNG, whatever
// they draw.
const evalStream = 1 << 40

// Evaluate returns the mean of each of m's evaluation metrics over one pass of s.
func Evaluate(ctx context.Context, m models.Model, s datasets.Stream, seed uint64) (models.Metrics, error) {
	r := rng.Stream(seed, evalStream)
	var total models.Metrics
	n := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for b := range s.Epoch(ctx, 0, 0) {
		sums, err := m.EvalStep(b, r)
		valid := b.Valid
		b.Release()
		if err != nil {
			return nil, err
		}
		if total == nil {
			total = make(models.Metrics, len(sums))
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
