//go:build cgo

package simd

import "testing"

func benchMap(b *testing.B, f func(y, x []float32)) {
	x := make([]float32, 393216)
	y := make([]float32, len(x))
	for i := range x {
		x[i] = float32(i%1000)/100 - 5
	}
	b.SetBytes(int64(4 * len(x)))
	for range b.N {
		f(y, x)
	}
}

func BenchmarkGELU(b *testing.B) { benchMap(b, GELU) }
func BenchmarkGELUGrad(b *testing.B) {
	benchMap(b, func(y, x []float32) { GELUGrad(y, x, x) })
}
func BenchmarkTanh(b *testing.B) { benchMap(b, func(y, x []float32) { Map(2, 0, y, x) }) }
func BenchmarkExp(b *testing.B)  { benchMap(b, func(y, x []float32) { Map(4, 0, y, x) }) }
func BenchmarkAdd(b *testing.B)  { benchMap(b, func(y, x []float32) { Add(y, x, x) }) }
func BenchmarkGELUAVX2(b *testing.B) {
	Use("AVX2")
	defer Use("AVX-512")
	benchMap(b, GELU)
}
