package graph

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// lstmFixture is scripts/torch/lstm_fixture.py's output.
type lstmFixture struct {
	Sizes struct {
		Vocab, Embed, Hidden, Layers, Batch, Steps int
	}
	IDs, Targets []float64
	Params       map[string][]float64
	H0, C0       []float64
	Loss         float64
	Logits       []float64
	HT           []float64 `json:"h_t"`
	CT           []float64 `json:"c_t"`
	Grads        map[string][]float64
	GradH0       []float64 `json:"grad_h0"`
	GradC0       []float64 `json:"grad_c0"`
}

// Embedding → 2-layer LSTM → Linear → mean cross-entropy, and every gradient, as PyTorch
// computes them for the same weights (float64: differences are rounding only).
func TestLSTMMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/torch_lstm.json")
	if err != nil {
		t.Fatal(err)
	}
	var f lstmFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	s := f.Sizes

	ps := params64()
	emb := NewEmbedding(ps, "embedding", s.Vocab, s.Embed, rng.New(1))
	lstm := NewLSTM(ps, "lstm", s.Embed, s.Hidden, s.Layers, rng.New(1))
	fc := NewLinear(ps, "fc", s.Hidden, s.Vocab, rng.New(1))
	for _, p := range ps.All() {
		want, ok := f.Params[p.Name]
		if !ok {
			t.Fatalf("PyTorch has no parameter %s", p.Name)
		}
		if len(want) != p.Value.Shape().TotalSize() {
			t.Fatalf("%s: shape %v, PyTorch has %d values", p.Name, p.Value.Shape(), len(want))
		}
		copy(p.Value.Data().([]float64), want)
	}
	if len(f.Params) != len(ps.All()) {
		t.Fatalf("PyTorch has %d parameters, aigc %d", len(f.Params), len(ps.All()))
	}
	bh := s.Batch * s.Hidden
	var h0, c0 []*Param
	for k := range s.Layers {
		h0 = append(h0, fixed(ps, fmt.Sprintf("h0_%d", k), f.H0[k*bh:(k+1)*bh], s.Batch, s.Hidden))
		c0 = append(c0, fixed(ps, fmt.Sprintf("c0_%d", k), f.C0[k*bh:(k+1)*bh], s.Batch, s.Hidden))
	}

	for _, fused := range []bool{true, false} {
		t.Run(map[bool]string{true: "fused", false: "steps"}[fused], func(t *testing.T) {
			compareLSTM(t, &f, ps, emb, lstm, fc, h0, c0, fused)
		})
	}
}

func compareLSTM(t *testing.T, f *lstmFixture, ps *Params, emb *Embedding, lstm *LSTM, fc *Linear, h0, c0 []*Param, fused bool) {
	s := f.Sizes
	g := G.NewGraph()
	var gr *Gradients
	var logits *G.Node
	var hT, cT []*G.Node
	err := Build(func() {
		xs := make([]*G.Node, s.Steps)
		for step := range xs {
			ids := f.IDs[step*s.Batch : (step+1)*s.Batch]
			xs[step] = emb.Forward(normInput(g, fmt.Sprintf("ids%d", step), tensor.Float64, ids, s.Batch))
		}
		nodes := func(ps []*Param) (ns []*G.Node) {
			for _, p := range ps {
				ns = append(ns, p.Node(g))
			}
			return ns
		}
		var y *G.Node
		if fused {
			y, hT, cT = lstm.Forward(Join(0, xs...), s.Steps, nodes(h0), nodes(c0), nil)
		} else {
			var ys []*G.Node
			ys, hT, cT = lstm.ForwardSteps(xs, nodes(h0), nodes(c0), nil)
			y = Join(0, ys...)
		}
		logits = fc.Forward(y)
		targets := normInput(g, "targets", tensor.Float64, f.Targets, s.Steps*s.Batch)
		loss := Mean(SoftmaxCrossEntropy(logits, targets))
		report := append([]*G.Node{logits}, append(hT, cT...)...)
		var err error
		if gr, err = CompileGradients(loss, ps.All(), report...); err != nil {
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
	if f.Loss == 0 || len(f.GradH0) == 0 {
		t.Fatal("fixture is missing values")
	}
	closeTo(t, "loss", []float64{gr.Float(0)}, []float64{f.Loss}, tol)
	closeTo(t, "logits", floats64(gr.Output(1)), f.Logits, tol)
	var gotH, gotC []float64
	for k := range s.Layers {
		gotH = append(gotH, floats64(gr.Output(2+k))...)
		gotC = append(gotC, floats64(gr.Output(2+s.Layers+k))...)
	}
	closeTo(t, "h_T", gotH, f.HT, tol)
	closeTo(t, "c_T", gotC, f.CT, tol)
	var gotDH0, gotDC0 []float64
	for i, p := range ps.All() {
		got := gr.Output(1 + 1 + 2*s.Layers + i).Data().([]float64)
		switch {
		case f.Grads[p.Name] != nil:
			closeTo(t, "grad "+p.Name, got, f.Grads[p.Name], tol)
		case p.Name[:2] == "h0":
			gotDH0 = append(gotDH0, got...)
		default:
			gotDC0 = append(gotDC0, got...)
		}
	}
	closeTo(t, "grad h0", gotDH0, f.GradH0, tol)
	closeTo(t, "grad c0", gotDC0, f.GradC0, tol)
}
