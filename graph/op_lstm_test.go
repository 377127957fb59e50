package graph

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestGradLSTMCell(t *testing.T) {
	ps := params64()
	a := randParam(ps, "gates", 1.5, 71, 3, 4*5)
	c := randParam(ps, "c_prev", 1, 72, 3, 5)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return LSTMCell(a.Node(g), c.Node(g)) })
}

func TestGradLSTMHidden(t *testing.T) {
	ps := params64()
	a := randParam(ps, "gates", 1.5, 73, 3, 4*5)
	c := randParam(ps, "c", 1, 74, 3, 5)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return LSTMHidden(a.Node(g), c.Node(g)) })
}

// Three steps of a cell wired as a layer uses it: the gates read h and c from the step
// before, so gradients flow back through both paths and add up at each gate input.
func TestGradLSTMUnrolled(t *testing.T) {
	ps := params64()
	wx := randParam(ps, "w_ih", 0.5, 75, 4*3, 2)
	wh := randParam(ps, "w_hh", 0.5, 76, 4*3, 3)
	h0 := randParam(ps, "h0", 0.5, 77, 2, 3)
	c0 := randParam(ps, "c0", 0.5, 78, 2, 3)
	xs := []*Param{randParam(ps, "x0", 1, 79, 2, 2), randParam(ps, "x1", 1, 80, 2, 2), randParam(ps, "x2", 1, 81, 2, 2)}
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		h, c := h0.Node(g), c0.Node(g)
		var hs []*G.Node
		for _, x := range xs {
			gates := Add(must(MatMul(x.Node(g), wx.Node(g), false, true)), must(MatMul(h, wh.Node(g), false, true)))
			c = LSTMCell(gates, c)
			h = LSTMHidden(gates, c)
			hs = append(hs, h)
		}
		return Join(0, hs...)
	})
}

// The fused sequence Op: gradients of every step's h and of the final h and c, with
// respect to the input projections, the recurrent weight and the initial state.
func TestGradLSTMSequence(t *testing.T) {
	const steps, b, h = 3, 2, 3
	ps := params64()
	xw := randParam(ps, "xw", 1, 83, steps*b, 4*h)
	whh := randParam(ps, "w_hh", 0.5, 84, 4*h, h)
	h0 := randParam(ps, "h0", 0.5, 85, b, h)
	c0 := randParam(ps, "c0", 0.5, 86, b, h)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		tape := LSTMSequence(xw.Node(g), whh.Node(g), h0.Node(g), c0.Node(g), steps)
		return Join(0, LSTMOutputs(tape, steps), LSTMLastH(tape, steps), LSTMLastC(tape, steps))
	})
}

func TestGradLookup(t *testing.T) {
	ps := params64()
	w := randParam(ps, "weight", 1, 82, 5, 3)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		// Repeated ids: their gradients must add up in one row.
		return Lookup(w.Node(g), normInput(g, "ids", tensor.Float64, []float64{4, 0, 4, 2, 4, 1}, 6))
	})
}

func TestLookupRejectsBadIDs(t *testing.T) {
	for _, bad := range []float64{5, -1, 1.5} {
		g := G.NewGraph()
		var prog *Program
		err := Build(func() {
			w := Input(g, "w", tensor.Float32, 5, 2)
			ids := Input(g, "ids", tensor.Float32, 3)
			copy(Buffer(ids), []float32{0, float32(bad), 1})
			var err error
			if prog, err = Compile(Lookup(w, ids)); err != nil {
				t.Fatal(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		err = prog.Run()
		prog.Close()
		if err == nil || !strings.Contains(err.Error(), "at position 1 is not a row of the 5-row table") {
			t.Errorf("id %v: %v", bad, err)
		}
	}
}
