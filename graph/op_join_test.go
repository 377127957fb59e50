package graph

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// Join along columns, as the Elman RNN joins [x; h], unrolled over steps.
func TestGradJoinColumnsUnrolled(t *testing.T) {
	ps := params64()
	w := randParam(ps, "w", 0.5, 91, 3, 2+3)
	h0 := randParam(ps, "h0", 0.5, 92, 2, 3)
	xs := []*Param{randParam(ps, "x0", 1, 93, 2, 2), randParam(ps, "x1", 1, 94, 2, 2)}
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		h := h0.Node(g)
		var outs []*G.Node
		for _, x := range xs {
			h = Tanh(must(MatMul(Join(1, x.Node(g), h), w.Node(g), false, true)))
			outs = append(outs, h)
		}
		return Join(0, outs...)
	})
}

// The Elman RNN of models/rnn.go, 12 steps, one-hot input looked up in an identity.
func TestGradElmanUnrolled(t *testing.T) {
	const v, h, b, steps = 5, 4, 3, 12
	ps := params64()
	i2h := NewLinear(ps, "i2h", v+h, h, rng.New(5))
	i2o := NewLinear(ps, "i2o", v+h, v, rng.New(6))
	r := rng.New(7)
	ids := make([][]float64, steps)
	for s := range ids {
		for range b {
			ids[s] = append(ids[s], float64(r.IntN(v)))
		}
	}
	eyeVals := make([]float64, v*v)
	for i := range v {
		eyeVals[i*v+i] = 1
	}
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		eye := normInput(g, "eye", tensor.Float64, eyeVals, v, v)
		hs := normInput(g, "h0", tensor.Float64, make([]float64, b*h), b, h)
		var ys []*G.Node
		for s := range steps {
			x := Lookup(eye, normInput(g, fmt.Sprintf("ids%d", s), tensor.Float64, ids[s], b))
			comb := Join(1, x, hs)
			ys = append(ys, i2o.Forward(comb))
			hs = Tanh(i2h.Forward(comb))
		}
		labels := make([]float64, steps*b)
		for i := range labels {
			labels[i] = float64((i * 7) % v)
		}
		return SoftmaxCrossEntropy(Join(0, ys...), normInput(g, "labels", tensor.Float64, labels, steps*b))
	})
}

func TestGradJoin(t *testing.T) {
	ps := params64()
	a := randParam(ps, "a", 1, 95, 3, 2)
	b := randParam(ps, "b", 1, 96, 3, 4)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return Join(1, a.Node(g), b.Node(g)) })
	ps = params64()
	a = randParam(ps, "a", 1, 95, 3, 2)
	c := randParam(ps, "c", 1, 97, 2, 2)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return Join(0, a.Node(g), c.Node(g), a.Node(g)) })
}
