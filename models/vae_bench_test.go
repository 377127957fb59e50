package models

import (
	"testing"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
)

// BenchmarkVAETrainStep times one training step of the default VAE (batch 128) on real
// MNIST images.
func BenchmarkVAETrainStep(b *testing.B) {
	set, err := datasets.LoadImages("")
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewVAE(defaultVAE(b), Env{ImageH: 28, ImageW: 28}, rng.New(1))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	batch := &datasets.Batch{Rows: 128, Valid: 128, X: make([]float32, 128*784)}
	for i, p := range set.Train.Pixels[:128*784] {
		batch.X[i] = float32(p) / 255
	}
	benchSteps(b, m, batch, "samples/s", 128)
}
