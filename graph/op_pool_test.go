package graph

import (
	"fmt"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestGradMaxPool2d(t *testing.T) {
	for _, c := range []struct{ kernel, stride int }{{3, 2}, {2, 2}, {2, 1}, {3, 3}} {
		t.Run(fmt.Sprintf("k%ds%d", c.kernel, c.stride), func(t *testing.T) {
			ps := params64()
			x := randParam(ps, "x", 1, 51, 2, 3, 7, 8) // continuous values: no ties
			gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return MaxPool2d(x.Node(g), c.kernel, c.stride) })
		})
	}
}

// Outputs and gradients of F.max_pool2d, including inputs full of ties (broken towards the
// first maximum in row-major order) and overlapping windows.
func TestMaxPool2dMatchesPyTorch(t *testing.T) {
	for i, fx := range loadNorm(t).MaxPool {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%d/%v", i, dt), func(t *testing.T) {
				x := (&Params{Dtype: dt}).New("x", fx.Shape...)
				setFloats(x.Value, fx.X)
				g := G.NewGraph()
				gr := compileNorm(t, func() (*G.Node, []*Param, []*G.Node) {
					y := MaxPool2d(x.Node(g), fx.Kernel, fx.Stride)
					return Sum(Mul(y, normInput(g, "r", dt, fx.R, y.Shape()...))), []*Param{x}, []*G.Node{y}
				})
				defer gr.Close()
				if err := gr.Run(); err != nil {
					t.Fatal(err)
				}
				closeTo(t, "y", floats64(gr.Output(1)), fx.Y, normTol(dt))
				closeTo(t, "grad x", floats64(gr.Output(2)), fx.GradX, normTol(dt))
			})
		}
	}
}

func TestMaxPool2dShapeErrors(t *testing.T) {
	for _, c := range []struct {
		shape          []int
		kernel, stride int
		want           string
	}{
		{[]int{2, 3, 8}, 2, 2, "[N, C, H, W]"},
		{[]int{2, 3, 4, 8}, 5, 1, "smaller than"},
		{[]int{2, 3, 8, 8}, 0, 1, "positive"},
		{[]int{2, 3, 8, 8}, 2, 0, "positive"},
	} {
		g := G.NewGraph()
		err := Build(func() { MaxPool2d(Input(g, "x", tensor.Float32, c.shape...), c.kernel, c.stride) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v k=%d s=%d: error %v, want one mentioning %q", c.shape, c.kernel, c.stride, err, c.want)
		}
	}
	g := G.NewGraph()
	var y *G.Node
	if err := Build(func() { y = MaxPool2d(Input(g, "x", tensor.Float32, 1, 2, 7, 9), 3, 2) }); err != nil {
		t.Fatal(err)
	}
	if !y.Shape().Eq(tensor.Shape{1, 2, 3, 4}) {
		t.Fatalf("pooled shape %v, want (1, 2, 3, 4)", y.Shape())
	}
}
