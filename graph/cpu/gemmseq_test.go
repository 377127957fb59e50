package cpu

import (
	"testing"
)

func BenchmarkGemmSequenceGPT(b *testing.B) {
	type g struct{ m, n, k int; ta, tb bool }
	gs := []g{{768, 384, 128, false, true}, {768, 128, 128, false, true}, {768, 512, 128, false, true}, {768, 128, 512, false, true},
		{768, 128, 384, false, false}, {768, 128, 128, false, false}, {768, 128, 512, false, false}, {768, 512, 128, false, false},
		{384, 128, 768, true, false}, {128, 128, 768, true, false}, {512, 128, 768, true, false}, {128, 512, 768, true, false}}
	bufs := make([][]float32, 64)
	for i := range bufs {
		bufs[i] = make([]float32, 768*512)
		for j := range bufs[i] {
			bufs[i][j] = float32(j%7) / 7
		}
	}
	SetThreads(2)
	b.ResetTimer()
	for range b.N {
		for l := range 4 {
			for i, x := range gs {
				lda, ldb := x.k, x.n
				if x.ta {
					lda = x.m
				}
				if x.tb {
					ldb = x.k
				}
				Gemm(x.ta, x.tb, x.m, x.n, x.k, 1, bufs[(l*12+i)%64], lda, bufs[(l*12+i+7)%64], ldb, 0, bufs[(l*12+i+13)%64], x.n)
			}
		}
	}
}
