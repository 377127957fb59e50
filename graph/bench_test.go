package graph

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// BenchmarkLinearStep times forward and backward of the VAE's largest layer
// (128×784 → 400) with ReLU, reporting the achieved GFLOP/s of its matrix products.
func BenchmarkLinearStep(b *testing.B) {
	ps := NewParams()
	fc := NewLinear(ps, "fc", 784, 400, rng.New(1))
	g := G.NewGraph()
	var gr *Gradients
	if err := Build(func() {
		x := Input(g, "x", tensor.Float32, 128, 784)
		rng.New(2).FillUniform(Buffer(x), 0, 1)
		var err error
		if gr, err = CompileGradients(Mean(ReLU(fc.Forward(x))), ps.All()); err != nil {
			b.Fatal(err)
		}
	}); err != nil {
		b.Fatal(err)
	}
	defer gr.Close()
	b.ResetTimer()
	for range b.N {
		if err := gr.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(gr.FLOPs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkAdam times one update of 650k parameters (the VAE's size).
func BenchmarkAdam(b *testing.B) {
	ps := NewParams()
	p := ps.New("w", 650_000)
	grad := make([]float32, 650_000)
	rng.New(1).FillNormal(grad)
	opt := NewAdam(ps.All(), AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	b.ResetTimer()
	for range b.N {
		opt.Update([][]float32{grad})
	}
	_ = p
}
