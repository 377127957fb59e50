package models

import "testing"

// BenchmarkGANTrainStep times a training step (a discriminator and a generator update) of
// the default MLP GAN, batch 64; BenchmarkDCGANStep of the DCGAN.
func BenchmarkGANTrainStep(b *testing.B) {
	benchSteps(b, newGANB(b), realBatchB(b, 64), "samples/s", 64)
}

func BenchmarkDCGANStep(b *testing.B) {
	benchSteps(b, newGANB(b, "arch=dcgan"), realBatchB(b, 64), "samples/s", 64)
}
