package graph

import (
	"encoding/json"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GPT's causal self-attention: q, k and v are column blocks of one [B·T, 3C] matrix.
func TestGradCausalSelfAttention(t *testing.T) {
	const b, tt, c, heads = 2, 4, 6, 2
	ps := params64()
	qkv := randParam(ps, "qkv", 1, 111, b*tt, 3*c)
	a := Attention{Heads: heads, Dim: c, Tq: tt, Tk: tt, QOff: 0, KOff: c, VOff: 2 * c, Causal: true}
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		x := qkv.Node(g)
		return a.Apply(a.Probs(x, x, nil), x)
	})
}

// A decoder's cross-attention to encoder keys and values, with the encoder's padding masked.
func TestGradMaskedCrossAttention(t *testing.T) {
	const b, tq, tk, c, heads = 2, 3, 5, 4, 2
	ps := params64()
	q := randParam(ps, "q", 1, 112, b*tq, c)
	kv := randParam(ps, "kv", 1, 113, b*tk, 2*c)
	a := Attention{Heads: heads, Dim: c, Tq: tq, Tk: tk, KOff: 0, VOff: c}
	mask := []float64{1, 1, 1, 0, 0, 1, 1, 1, 1, 1}
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		m := normInput(g, "mask", tensor.Float64, mask, b, tk)
		return a.Apply(a.Probs(q.Node(g), kv.Node(g), m), kv.Node(g))
	})
}

// Causality and padding: probabilities are zero where attention is not allowed and rows
// sum to one.
func TestAttentionProbsMasks(t *testing.T) {
	const b, tt, c = 2, 4, 2
	g := G.NewGraph()
	var prog *Program
	err := Build(func() {
		x := Input(g, "x", tensor.Float32, b*tt, 3*c)
		r := Buffer(x)
		for i := range r {
			r[i] = float32(i%7) / 7
		}
		m := Input(g, "mask", tensor.Float32, b, tt)
		copy(Buffer(m), []float32{1, 1, 1, 1, 1, 1, 0, 1})
		a := Attention{Heads: 1, Dim: c, Tq: tt, Tk: tt, KOff: c, VOff: 2 * c, Causal: true}
		var err error
		if prog, err = Compile(a.Probs(x, x, m)); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	p := prog.Floats(0)
	for row := range b * tt {
		s, i := row/tt, row%tt
		var sum float32
		for j := range tt {
			v := p[row*tt+j]
			if (j > i || (s == 1 && j == 2)) && v != 0 {
				t.Fatalf("sequence %d position %d attends to %d: %v", s, i, j, v)
			}
			sum += v
		}
		if sum < 0.9999 || sum > 1.0001 {
			t.Fatalf("row %d sums to %v", row, sum)
		}
	}
}

// Both attentions against PyTorch (scripts/torch/blocks_fixture.py).
func TestAttentionMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/torch_blocks.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Self struct {
			QKV, R, Y []float64
			GradQKV   []float64 `json:"grad_qkv"`
		} `json:"self_attention"`
		Cross struct {
			Q, KV, Mask, R, Y []float64
			GradQ             []float64 `json:"grad_q"`
			GradKV            []float64 `json:"grad_kv"`
		} `json:"cross_attention"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	const B, T, C, NH, S = 2, 5, 8, 2, 4
	ps := params64()
	qkv := fixed(ps, "qkv", f.Self.QKV, B*T, 3*C)
	a := Attention{Heads: NH, Dim: C, Tq: T, Tk: T, KOff: C, VOff: 2 * C, Causal: true}
	y, grads := runWeighted(t, ps, f.Self.R, func(g *G.ExprGraph) *G.Node {
		x := qkv.Node(g)
		return a.Apply(a.Probs(x, x, nil), x)
	})
	closeTo(t, "self-attention y", y, f.Self.Y, 1e-12)
	closeTo(t, "self-attention dqkv", grads[0], f.Self.GradQKV, 1e-10)

	ps = params64()
	q := fixed(ps, "q", f.Cross.Q, B*T, C)
	kv := fixed(ps, "kv", f.Cross.KV, B*S, 2*C)
	ca := Attention{Heads: NH, Dim: C, Tq: T, Tk: S, VOff: C}
	y, grads = runWeighted(t, ps, f.Cross.R, func(g *G.ExprGraph) *G.Node {
		m := normInput(g, "mask", tensor.Float64, f.Cross.Mask, B, S)
		return ca.Apply(ca.Probs(q.Node(g), kv.Node(g), m), kv.Node(g))
	})
	closeTo(t, "cross-attention y", y, f.Cross.Y, 1e-12)
	closeTo(t, "cross-attention dq", grads[0], f.Cross.GradQ, 1e-10)
	closeTo(t, "cross-attention dkv", grads[1], f.Cross.GradKV, 1e-10)
}
