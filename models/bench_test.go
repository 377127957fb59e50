package models

import (
	"testing"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
)

// benchSteps times training steps of m on one batch after a few untimed ones (the first
// step compiles the optimiser's program), reporting allocations, the rate in unit
// (perStep of them a step) and the GFLOP/s of the matrix products. Every step but the
// metrics a TrainStep returns runs without allocating.
func benchSteps(b *testing.B, m Model, batch *datasets.Batch, unit string, perStep int) {
	r := rng.New(2)
	step := []*datasets.Batch{batch} // reused, as the trainer reuses its group of micro-batches
	for range 3 {
		if _, err := m.TrainStep(step, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := m.TrainStep(step, r); err != nil {
			b.Fatal(err)
		}
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(perStep*b.N)/s, unit)
	b.ReportMetric(float64(m.StepFLOPs())*float64(b.N)/s/1e9, "GFLOP/s")
}
