package graph

import (
	"fmt"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// xentLabelInput adds a [n] input of class indices.
func xentLabelInput(g *G.ExprGraph, dt tensor.Dtype, labels []int) *G.Node {
	vs := make([]float64, len(labels))
	for i, l := range labels {
		vs[i] = float64(l)
	}
	return normInput(g, "labels", dt, vs, len(labels))
}

func TestGradSoftmaxCrossEntropy(t *testing.T) {
	ps := params64()
	l := randParam(ps, "logits", 3, 61, 5, 7)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		return SoftmaxCrossEntropy(l.Node(g), xentLabelInput(g, tensor.Float64, []int{0, 6, 3, 3, 1}))
	})
}

// F.cross_entropy(reduction='none') and its gradient, for ordinary logits and for ±1000,
// where an unshifted exponential would overflow.
func TestSoftmaxCrossEntropyMatchesPyTorch(t *testing.T) {
	for i, fx := range loadNorm(t).Xent {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%d/%v", i, dt), func(t *testing.T) {
				l := (&Params{Dtype: dt}).New("logits", fx.Shape...)
				setFloats(l.Value, fx.Logits)
				g := G.NewGraph()
				gr := compileNorm(t, func() (*G.Node, []*Param, []*G.Node) {
					loss := SoftmaxCrossEntropy(l.Node(g), xentLabelInput(g, dt, fx.Labels))
					return Sum(Mul(loss, normInput(g, "w", dt, fx.W, len(fx.W)))), []*Param{l}, []*G.Node{loss}
				})
				defer gr.Close()
				if err := gr.Run(); err != nil {
					t.Fatal(err)
				}
				loss, grad := floats64(gr.Output(1)), floats64(gr.Output(2))
				for _, v := range append(append([]float64(nil), loss...), grad...) {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("non-finite loss or gradient: %v %v", loss, grad)
					}
				}
				closeTo(t, "loss", loss, fx.Loss, normTol(dt))
				closeTo(t, "grad", grad, fx.Grad, normTol(dt))
			})
		}
	}
}

func TestSoftmaxCrossEntropyBadLabel(t *testing.T) {
	for _, bad := range []float64{2.5, -1, 4, math.NaN()} {
		g := G.NewGraph()
		var prog *Program
		if err := Build(func() {
			logits := Input(g, "logits", tensor.Float32, 5, 4)
			labels := Input(g, "labels", tensor.Float32, 5)
			copy(Buffer(labels), []float32{0, 1, 2, float32(bad), 3})
			var err error
			if prog, err = Compile(SoftmaxCrossEntropy(logits, labels)); err != nil {
				t.Fatal(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		err := prog.Run()
		prog.Close()
		if err == nil || !strings.Contains(err.Error(), "row 3") || !strings.Contains(err.Error(), fmt.Sprint(bad)) {
			t.Errorf("label %v: error %v", bad, err)
		}
	}
	g := G.NewGraph()
	err := Build(func() {
		SoftmaxCrossEntropy(Input(g, "logits", tensor.Float32, 5, 4), Input(g, "labels", tensor.Float32, 4))
	})
	if err == nil || !strings.Contains(err.Error(), "labels") {
		t.Errorf("mismatched labels: error %v", err)
	}
}

// BenchmarkSoftmaxCrossEntropy times loss and logits gradient for a language model's batch
// of 768 positions, with a character vocabulary (65) and a subword one (8192).
func BenchmarkSoftmaxCrossEntropy(b *testing.B) {
	for _, k := range []int{65, 8192} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			const n = 768
			ps := NewParams()
			l := ps.New("logits", n, k)
			rng.New(1).FillNormal(l.Data())
			g := G.NewGraph()
			gr := compileNorm(b, func() (*G.Node, []*Param, []*G.Node) {
				labels := Input(g, "labels", tensor.Float32, n)
				for i, d := 0, Buffer(labels); i < n; i++ {
					d[i] = float32(i * 7 % k)
				}
				w := Input(g, "w", tensor.Float32, n)
				MeanWeights(Buffer(w), n)
				return Sum(Mul(SoftmaxCrossEntropy(l.Node(g), labels), w)), ps.All(), nil
			})
			defer gr.Close()
			b.ResetTimer()
			for range b.N {
				if err := gr.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
