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

// Forward runs the LSTM over the steps xs ([B, In] each) from the initial states h0 and
// c0 (one [B, H] node per layer). It returns the top layer's hidden state at every step and
// each layer's final h and c (to carry into the next window). between, when not nil, is
// applied to each layer's outputs before the next layer reads them (PyTorch's dropout
// argument).
func (l *LSTM) Forward(xs, h0, c0 []*G.Node, between func(*G.Node) *G.Node) (ys, hT, cT []*G.Node) {
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
			// One matrix product for all four gates of the input, one for the hidden state.
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
