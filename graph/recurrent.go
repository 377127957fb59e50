package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/aigc-go/aigc/internal/rng"
)

// Embedding is torch.nn.Embedding: a table of one learnt vector per token.
type Embedding struct {
	Vocab, Dim int
	Weight     *Param
}

// NewEmbedding adds "<name>.weight" [vocab, dim], drawn from N(0, 1) as PyTorch does.
func NewEmbedding(ps *Params, name string, vocab, dim int, r *rng.RNG) *Embedding {
	e := &Embedding{Vocab: vocab, Dim: dim, Weight: ps.New(name+".weight", vocab, dim)}
	Normal(e.Weight, 0, 1, r)
	return e
}

// Forward returns the vectors of ids ([N] token ids as floats), [N, Dim].
func (e *Embedding) Forward(ids *G.Node) *G.Node { return Lookup(e.Weight.Node(ids.Graph()), ids) }

// LSTM is torch.nn.LSTM (batch of rows, no projection): Layers stacked cells, each layer's
// hidden states the next one's inputs. Its parameters carry PyTorch's names
// (<name>.weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...), so its weights load into
// nn.LSTM by name.
type LSTM struct {
	In, Hidden, Layers int
	WIH, WHH, BIH, BHH []*Param // per layer: [4H, in], [4H, H], [4H], [4H]
}

// NewLSTM adds the parameters of a layers-deep LSTM, drawn from U(−1/√H, 1/√H) as PyTorch
// does.
func NewLSTM(ps *Params, name string, in, hidden, layers int, r *rng.RNG) *LSTM {
	l := &LSTM{In: in, Hidden: hidden, Layers: layers}
	bound := fanInBound(hidden)
	for k := range layers {
		inK := in
		if k > 0 {
			inK = hidden
		}
		add := func(kind string, shape ...int) *Param {
			p := ps.New(fmt.Sprintf("%s.%s_l%d", name, kind, k), shape...)
			Uniform(p, bound, r)
			return p
		}
		l.WIH = append(l.WIH, add("weight_ih", 4*hidden, inK))
		l.WHH = append(l.WHH, add("weight_hh", 4*hidden, hidden))
		l.BIH = append(l.BIH, add("bias_ih", 4*hidden))
		l.BHH = append(l.BHH, add("bias_hh", 4*hidden))
	}
	return l
}

// Forward runs the LSTM over a window: x holds the inputs of all steps stacked
// time-major, [T·B, In] (row t·B+b is row b at step t), and h0, c0 the initial states (one
// [B, H] node per layer). It returns the top layer's hidden states, stacked the same way
// ([T·B, H]), and each layer's final h and c (to carry into the next window). between,
// when not nil, is applied to each layer's outputs before the next layer reads them
// (PyTorch's dropout argument).
//
// Each layer is one input projection for all steps (a [T·B, In]·[In, 4H] product) and one
// LSTMSequence; ForwardSteps is the same computation step by step, the reference it is
// tested against.
func (l *LSTM) Forward(x *G.Node, steps int, h0, c0 []*G.Node, between func(*G.Node) *G.Node) (y *G.Node, hT, cT []*G.Node) {
	g := x.Graph()
	y = x
	for k := range l.Layers {
		if k > 0 && between != nil {
			y = between(y)
		}
		xw := AddBias(AddBias(must(MatMul(y, l.WIH[k].Node(g), false, true)), l.BIH[k].Node(g), 1), l.BHH[k].Node(g), 1)
		tape := LSTMSequence(xw, l.WHH[k].Node(g), h0[k], c0[k], steps)
		y = LSTMOutputs(tape, steps)
		hT, cT = append(hT, LSTMLastH(tape, steps)), append(cT, LSTMLastC(tape, steps))
	}
	return y, hT, cT
}

// ForwardSteps is Forward unrolled into per-step nodes: xs[t] is the [B, In] input of step
// t, and the outputs are per step too. Each step is two matrix products (all four gates at
// once) and the fused LSTMCell and LSTMHidden.
func (l *LSTM) ForwardSteps(xs, h0, c0 []*G.Node, between func(*G.Node) *G.Node) (ys, hT, cT []*G.Node) {
	g := xs[0].Graph()
	ys = xs
	for k := range l.Layers {
		if k > 0 && between != nil {
			for t := range ys {
				ys[t] = between(ys[t])
			}
		}
		wih, whh := l.WIH[k].Node(g), l.WHH[k].Node(g)
		bih, bhh := l.BIH[k].Node(g), l.BHH[k].Node(g)
		h, c := h0[k], c0[k]
		out := make([]*G.Node, len(ys))
		for t, x := range ys {
			gates := Add(AddBias(must(MatMul(x, wih, false, true)), bih, 1),
				AddBias(must(MatMul(h, whh, false, true)), bhh, 1))
			c = LSTMCell(gates, c)
			h = LSTMHidden(gates, c)
			out[t] = h
		}
		ys = out
		hT, cT = append(hT, h), append(cT, c)
	}
	return ys, hT, cT
}
