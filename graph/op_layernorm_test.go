package graph

import (
	"encoding/json"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestGradLayerNorm(t *testing.T) {
	ps := params64()
	x := randParam(ps, "x", 2, 101, 4, 6)
	gamma := randParam(ps, "weight", 1, 102, 6)
	beta := randParam(ps, "bias", 1, 103, 6)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return LayerNorm(x.Node(g), gamma.Node(g), beta.Node(g), 1e-5) })
}

func TestGradGELU(t *testing.T) {
	ps := params64()
	x := randParam(ps, "x", 2, 104, 5, 7)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return GELU(x.Node(g)) })
}

// LayerNorm and GELU against PyTorch's outputs and gradients (scripts/torch/blocks_fixture.py).
func TestBlocksMatchPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/torch_blocks.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		LayerNorm struct {
			X, Weight, Bias, R, Y []float64
			GradX                 []float64 `json:"grad_x"`
			GradWeight            []float64 `json:"grad_weight"`
			GradBias              []float64 `json:"grad_bias"`
		}
		GELU struct {
			X, R, Y []float64
			GradX   []float64 `json:"grad_x"`
		}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	ln := f.LayerNorm
	ps := params64()
	x := fixed(ps, "x", ln.X, 5, 8)
	w := fixed(ps, "weight", ln.Weight, 8)
	bias := fixed(ps, "bias", ln.Bias, 8)
	y, grads := runWeighted(t, ps, ln.R, func(g *G.ExprGraph) *G.Node {
		return LayerNorm(x.Node(g), w.Node(g), bias.Node(g), 1e-5)
	})
	closeTo(t, "layernorm y", y, ln.Y, 1e-12)
	closeTo(t, "layernorm dx", grads[0], ln.GradX, 1e-10)
	closeTo(t, "layernorm dweight", grads[1], ln.GradWeight, 1e-10)
	closeTo(t, "layernorm dbias", grads[2], ln.GradBias, 1e-10)

	ge := f.GELU
	ps = params64()
	xg := fixed(ps, "x", ge.X, 4, 9)
	y, grads = runWeighted(t, ps, ge.R, func(g *G.ExprGraph) *G.Node { return GELU(xg.Node(g)) })
	closeTo(t, "gelu y", y, ge.Y, 1e-12)
	closeTo(t, "gelu dx", grads[0], ge.GradX, 1e-10)
}

// runWeighted evaluates out and the gradients of Σ out·r with respect to ps.
func runWeighted(t *testing.T, ps *Params, r []float64, build func(g *G.ExprGraph) *G.Node) ([]float64, [][]float64) {
	t.Helper()
	g := G.NewGraph()
	var gr *Gradients
	err := Build(func() {
		out := build(g)
		weights := normInput(g, "r", tensor.Float64, r, out.Shape()...)
		var err error
		if gr, err = CompileGradients(Sum(Mul(out, weights)), ps.All(), out); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Close()
	if err := gr.Run(); err != nil {
		t.Fatal(err)
	}
	y := append([]float64(nil), floats64(gr.Output(1))...)
	var grads [][]float64
	for i := range ps.All() {
		grads = append(grads, append([]float64(nil), gr.Output(2+i).Data().([]float64)...))
	}
	return y, grads
}
