package graph

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// elmanSteps is the same recurrence unrolled into per-step nodes: the Linear layer on
// [x_t; h_{t−1}], then the activation; the reference the fused Op is checked against.
func elmanSteps(x, h0, w, b *G.Node, steps int, tanh bool) *G.Node {
	rows := x.Shape()[0] / steps
	hs := []*G.Node{h0}
	h := h0
	for t := range steps {
		h = must(MatMulBias(Join(1, Rows(x, t*rows, rows), h), w, b, false, true))
		if tanh {
			h = Tanh(h)
		}
		hs = append(hs, h)
	}
	return Join(0, hs...)
}

func TestGradElmanSequence(t *testing.T) {
	for _, tanh := range []bool{true, false} {
		t.Run(fmt.Sprintf("tanh=%v", tanh), func(t *testing.T) {
			const steps, rows, in, hid = 3, 2, 4, 3
			ps := params64()
			x := randParam(ps, "x", 1, 21, steps*rows, in)
			h0 := randParam(ps, "h0", 1, 22, rows, hid)
			w := randParam(ps, "w", 0.5, 23, hid, in+hid)
			b := randParam(ps, "b", 0.5, 24, hid)
			gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
				return ElmanSequence(x.Node(g), h0.Node(g), w.Node(g), b.Node(g), steps, tanh)
			})
		})
	}
}

// The fused sequence computes what the unrolled graph does, value and every gradient, in
// float64 and in float32.
func TestElmanSequenceMatchesSteps(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			const steps, rows, in, hid = 7, 3, 5, 4
			ps := &Params{Dtype: dt}
			x := randParam(ps, "x", 1, 31, steps*rows, in)
			h0 := randParam(ps, "h0", 1, 32, rows, hid)
			w := randParam(ps, "w", 0.5, 33, hid, in+hid)
			b := randParam(ps, "b", 0.5, 34, hid)
			run := func(f func(x, h0, w, b *G.Node, steps int, tanh bool) *G.Node) [][]float64 {
				g := G.NewGraph()
				var gr *Gradients
				err := Build(func() {
					states := f(x.Node(g), h0.Node(g), w.Node(g), b.Node(g), steps, true)
					weights := Input(g, "R", dt, states.Shape()...)
					for i := range weights.Shape().TotalSize() {
						setFloat(weights, i, math.Sin(float64(i)))
					}
					var err error
					gr, err = CompileGradients(Sum(Mul(states, weights)), ps.All(), states)
					if err != nil {
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
				var out [][]float64
				for i := range 2 + len(ps.All()) {
					out = append(out, floats64(gr.Output(i)))
				}
				return out
			}
			fused, unrolled := run(ElmanSequence), run(elmanSteps)
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-5
			}
			names := []string{"loss", "states", "grad x", "grad h0", "grad w", "grad b"}
			for i := range fused {
				closeTo(t, names[i], fused[i], unrolled[i], tol)
			}
		})
	}
}

// setFloat sets element i of an input node's tensor.
func setFloat(n *G.Node, i int, v float64) {
	switch d := n.Value().Data().(type) {
	case []float32:
		d[i] = float32(v)
	case []float64:
		d[i] = v
	}
}
