package graph

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// gradCheck compares the symbolic gradients of loss = Σ out ⊙ R (R a fixed random tensor,
// so that the upstream gradient is not all ones) with central finite differences, in
// float64, for every element of every parameter.
func gradCheck(t *testing.T, ps *Params, build func(g *G.ExprGraph) *G.Node) {
	t.Helper()
	if ps.Dtype != tensor.Float64 {
		t.Fatal("gradient checks run in float64")
	}
	g := G.NewGraph()
	var out, weights *G.Node
	var grads *Gradients
	err := Build(func() {
		out = build(g)
		if out.IsScalar() {
			weights = Scalar(out, 0.7)
		} else {
			weights = Input(g, "R", tensor.Float64, out.Shape()...)
			r := rng.New(99)
			data := weights.Value().Data().([]float64)
			for i := range data {
				data[i] = r.NormFloat64()
			}
		}
		loss := Sum(Mul(out, weights))
		var err error
		grads, err = CompileGradients(loss, ps.All())
		if err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer grads.Close()

	lossAt := func() float64 {
		if err := grads.Run(); err != nil {
			t.Fatal(err)
		}
		return grads.Float(0)
	}
	lossAt()
	analytic := make([][]float64, len(ps.All()))
	for i := range analytic {
		analytic[i] = append([]float64(nil), grads.Output(1+i).Data().([]float64)...)
	}
	const h = 1e-6
	for i, p := range ps.All() {
		data := p.Value.Data().([]float64)
		for j := range data {
			orig := data[j]
			data[j] = orig + h
			up := lossAt()
			data[j] = orig - h
			down := lossAt()
			data[j] = orig
			numeric := (up - down) / (2 * h)
			if diff := math.Abs(numeric - analytic[i][j]); diff > 1e-6+1e-5*math.Abs(numeric) {
				t.Errorf("%s[%d]: analytic %.9g, numeric %.9g", p.Name, j, analytic[i][j], numeric)
			}
		}
	}
}

func params64() *Params { return &Params{Dtype: tensor.Float64} }

// randParam adds a float64 parameter filled with N(0, scale²) samples.
func randParam(ps *Params, name string, scale float64, seed uint64, shape ...int) *Param {
	p := ps.New(name, shape...)
	Normal(p, 0, scale, rng.New(seed))
	return p
}

func TestGradMatMul(t *testing.T) {
	for _, c := range []struct{ ta, tb bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		ps := params64()
		sa, sb := []int{3, 4}, []int{4, 5}
		if c.ta {
			sa = []int{4, 3}
		}
		if c.tb {
			sb = []int{5, 4}
		}
		a := randParam(ps, "a", 1, 1, sa...)
		b := randParam(ps, "b", 1, 2, sb...)
		gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
			return must(MatMul(a.Node(g), b.Node(g), c.ta, c.tb))
		})
	}
}

func TestGradLinear(t *testing.T) {
	ps := params64()
	x := randParam(ps, "x", 1, 3, 5, 7)
	lin := NewLinear(ps, "fc", 7, 4, rng.New(4))
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return lin.Forward(x.Node(g)) })
}

func TestGradActivations(t *testing.T) {
	for name, f := range map[string]func(*G.Node) *G.Node{
		"relu":      ReLU,
		"leakyrelu": func(x *G.Node) *G.Node { return LeakyReLU(x, 0.2) },
		"tanh":      Tanh,
		"sigmoid":   Sigmoid,
	} {
		t.Run(name, func(t *testing.T) {
			ps := params64()
			x := randParam(ps, "x", 2, 5, 6, 9)
			gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return f(x.Node(g)) })
		})
	}
}

func TestGradAddBias4D(t *testing.T) {
	ps := params64()
	x := randParam(ps, "x", 1, 6, 2, 3, 2, 2)
	b := randParam(ps, "b", 1, 7, 3)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return AddBias(x.Node(g), b.Node(g), 1) })
}

func TestGradBCEWithLogits(t *testing.T) {
	ps := params64()
	l := randParam(ps, "logits", 3, 8, 4, 6)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		target := Input(g, "target", tensor.Float64, 4, 6)
		r := rng.New(9)
		for i, d := 0, target.Value().Data().([]float64); i < len(d); i++ {
			d[i] = r.Float64()
		}
		return BCEWithLogits(l.Node(g), target)
	})
}

func TestGradGaussianKL(t *testing.T) {
	ps := params64()
	mu := randParam(ps, "mu", 1, 10, 3, 5)
	lv := randParam(ps, "logvar", 1, 11, 3, 5)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return GaussianKL(mu.Node(g), lv.Node(g)) })
}

func TestGradMean(t *testing.T) {
	ps := params64()
	x := randParam(ps, "x", 1, 12, 4)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return Mean(x.Node(g)) })
}

func TestGradReparameterize(t *testing.T) {
	ps := params64()
	mu := randParam(ps, "mu", 1, 13, 3, 4)
	lv := randParam(ps, "logvar", 1, 14, 3, 4)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		eps := Input(g, "eps", tensor.Float64, 3, 4)
		r := rng.New(15)
		for i, d := 0, eps.Value().Data().([]float64); i < len(d); i++ {
			d[i] = r.NormFloat64()
		}
		return Reparameterize(mu.Node(g), lv.Node(g), eps)
	})
}
