package graph

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// torchFixture holds values PyTorch computed for the same layers
// (scripts/torch/graph_fixtures.py writes testdata/torch_layers.json).
type torchFixture struct {
	Net struct {
		X, W1, B1, W2, B2, Target, Mu, Logvar []float64
		BCE, KL                               []float64
		Loss                                  float64
		GradX                                 []float64 `json:"grad_x"`
		GradW1                                []float64 `json:"grad_w1"`
		GradB1                                []float64 `json:"grad_b1"`
		GradW2                                []float64 `json:"grad_w2"`
		GradB2                                []float64 `json:"grad_b2"`
		GradMu                                []float64 `json:"grad_mu"`
		GradLogvar                            []float64 `json:"grad_logvar"`
	}
	BCEExtreme struct {
		Logits, Target, BCE, Grad []float64
	} `json:"bce_extreme"`
	Adam struct {
		LR, Beta1, Beta2, Eps float64
		Start                 []float32
		Grads                 [][]float32
		Final                 []float32
		ExpAvg                []float32 `json:"exp_avg"`
		ExpAvgSq              []float32 `json:"exp_avg_sq"`
	}
}

func loadTorch(t *testing.T) *torchFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/torch_layers.json")
	if err != nil {
		t.Fatal(err)
	}
	var f torchFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func closeTo[T float32 | float64](t *testing.T, what string, got, want []T, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, PyTorch has %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %.10g, PyTorch %.10g", what, i, got[i], want[i])
		}
	}
}

func fixed(ps *Params, name string, data []float64, shape ...int) *Param {
	p := ps.New(name, shape...)
	copy(p.Value.Data().([]float64), data)
	return p
}

// The network of graph_fixtures.py, in float64: outputs and every gradient must match.
func TestLayersMatchPyTorch(t *testing.T) {
	n := loadTorch(t).Net
	ps := params64()
	x := fixed(ps, "x", n.X, 4, 6)
	fc1 := &Linear{In: 6, Out: 5, Weight: fixed(ps, "w1", n.W1, 5, 6), Bias: fixed(ps, "b1", n.B1, 5)}
	fc2 := &Linear{In: 5, Out: 6, Weight: fixed(ps, "w2", n.W2, 6, 5), Bias: fixed(ps, "b2", n.B2, 6)}
	mu := fixed(ps, "mu", n.Mu, 4, 3)
	logvar := fixed(ps, "logvar", n.Logvar, 4, 3)

	g := G.NewGraph()
	var gr *Gradients
	err := Build(func() {
		target := Input(g, "target", tensor.Float64, 4, 6)
		copy(target.Value().Data().([]float64), n.Target)
		h := fc1.Forward(x.Node(g))
		mix := Add(Add(ReLU(h), Mul(LeakyReLU(h, 0.2), Scalar(h, 0.5))),
			Add(Mul(Tanh(h), Scalar(h, 0.25)), Mul(Sigmoid(h), Scalar(h, 0.125))))
		bce := BCEWithLogits(fc2.Forward(mix), target)
		kl := GaussianKL(mu.Node(g), logvar.Node(g))
		var err error
		if gr, err = CompileGradients(Mean(Add(bce, kl)), ps.All(), bce, kl); err != nil {
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
	const tol = 1e-10
	closeTo(t, "loss", []float64{gr.Float(0)}, []float64{n.Loss}, tol)
	closeTo(t, "bce", gr.Output(1).Data().([]float64), n.BCE, tol)
	closeTo(t, "kl", gr.Output(2).Data().([]float64), n.KL, tol)
	for i, want := range [][]float64{n.GradX, n.GradW1, n.GradB1, n.GradW2, n.GradB2, n.GradMu, n.GradLogvar} {
		closeTo(t, "grad "+ps.All()[i].Name, gr.Output(3+i).Data().([]float64), want, tol)
	}
}

// BCE from logits stays finite and exact where log(sigmoid) would overflow or round.
func TestBCEExtremeLogitsMatchPyTorch(t *testing.T) {
	f := loadTorch(t).BCEExtreme
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		ps := &Params{Dtype: dt}
		l := ps.New("logits", 1, 5)
		tgt := ps.New("target", 1, 5)
		setFloats(l.Value, f.Logits)
		setFloats(tgt.Value, f.Target)
		g := G.NewGraph()
		var gr *Gradients
		if err := Build(func() {
			var err error
			gr, err = CompileGradients(Sum(BCEWithLogits(l.Node(g), tgt.Node(g))), []*Param{l})
			if err != nil {
				t.Fatal(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := gr.Run(); err != nil {
			t.Fatal(err)
		}
		closeTo(t, dt.String()+" bce", []float64{gr.Float(0)}, f.BCE, 1e-6)
		closeTo(t, dt.String()+" grad", floats64(gr.Output(1)), f.Grad, 1e-6)
		gr.Close()
	}
}

// setFloats copies float64 values into a float32 or float64 tensor.
func setFloats(t *tensor.Dense, vs []float64) {
	switch d := t.Data().(type) {
	case []float64:
		copy(d, vs)
	case []float32:
		for i, v := range vs {
			d[i] = float32(v)
		}
	}
}

// floats64 returns a float32 or float64 tensor's values as float64.
func floats64(t *tensor.Dense) []float64 {
	switch d := t.Data().(type) {
	case []float64:
		return d
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	}
	return nil
}

// Adam's update, moments and bias correction match torch.optim.Adam step for step.
func TestAdamMatchesPyTorch(t *testing.T) {
	f := loadTorch(t).Adam
	ps := NewParams()
	p := ps.New("p", len(f.Start))
	copy(p.Data(), f.Start)
	opt := NewAdam(ps.All(), AdamConfig{LR: f.LR, Beta1: f.Beta1, Beta2: f.Beta2, Eps: f.Eps})
	for _, g := range f.Grads {
		opt.Update([][]float32{g})
	}
	closeTo(t, "param", p.Data(), f.Final, 1e-6)
	state := opt.State()
	closeTo(t, "exp_avg", state[0].Data, f.ExpAvg, 1e-6)
	closeTo(t, "exp_avg_sq", state[1].Data, f.ExpAvgSq, 1e-6)
	if state[0].Name != "optim.exp_avg.p" || state[1].Name != "optim.exp_avg_sq.p" || opt.Steps != 3 {
		t.Fatalf("state names %q %q, steps %d", state[0].Name, state[1].Name, opt.Steps)
	}
}
