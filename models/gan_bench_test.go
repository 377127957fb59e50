package models

import (
	"testing"

	"github.com/aigc-go/aigc/internal/rng"
)

func BenchmarkDCGANStep(b *testing.B) {
	m := newGANB(b, "arch=dcgan")
	batch := realBatchB(b, 64)
	r := rng.New(1)
	b.ResetTimer()
	for range b.N {
		if _, err := m.TrainStep(batch, r); err != nil {
			b.Fatal(err)
		}
	}
}
