package graph

import (
	G "gorgonia.org/gorgonia"

	"github.com/aigc-go/aigc/internal/rng"
)

// Linear is torch.nn.Linear: y = x·Wᵀ + b with W of shape [out, in].
type Linear struct {
	In, Out      int
	Weight, Bias *Param
}

// NewLinear adds "<name>.weight" and "<name>.bias" to ps, initialised as PyTorch does.
func NewLinear(ps *Params, name string, in, out int, r *rng.RNG) *Linear {
	l := &Linear{
		In: in, Out: out,
		Weight: ps.New(name+".weight", out, in),
		Bias:   ps.New(name+".bias", out),
	}
	bound := fanInBound(in)
	Uniform(l.Weight, bound, r)
	Uniform(l.Bias, bound, r)
	return l
}

// Forward applies the layer to x of shape [batch, in].
func (l *Linear) Forward(x *G.Node) *G.Node {
	g := x.Graph()
	return AddBias(must(MatMul(x, l.Weight.Node(g), false, true)), l.Bias.Node(g), 1)
}
