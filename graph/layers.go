package graph

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// Linear is torch.nn.Linear: y = x·Wᵀ + b with W of shape [out, in].
type Linear struct {
	In, Out      int
	Weight, Bias *Param
}

// NewLinear adds "<name>.weight" and "<name>.bias" to ps, initialised as PyTorch does.
func NewLinear(ps *Params, name string, in, out int, r *rng.RNG) *Linear {
	l := NewLinearNoBias(ps, name, in, out, r)
	l.Bias = ps.New(name+".bias", out)
	Uniform(l.Bias, fanInBound(in), r)
	return l
}

// Forward applies the layer to x of shape [batch, in].
func (l *Linear) Forward(x *G.Node) *G.Node {
	g := x.Graph()
	if l.Bias == nil {
		return must(MatMul(x, l.Weight.Node(g), false, true))
	}
	return must(MatMulBias(x, l.Weight.Node(g), l.Bias.Node(g), false, true))
}

// NewLinearNoBias adds only "<name>.weight" (nn.Linear with bias=False).
func NewLinearNoBias(ps *Params, name string, in, out int, r *rng.RNG) *Linear {
	l := &Linear{In: in, Out: out, Weight: ps.New(name+".weight", out, in)}
	Uniform(l.Weight, fanInBound(in), r)
	return l
}

// LayerNormLayer is torch.nn.LayerNorm over the last axis of [N, D], with eps 1e-5; Bias
// is nil for bias=False.
type LayerNormLayer struct {
	Weight, Bias *Param
	zero         *Param // the shift when there is no bias
}

// NewLayerNorm adds "<name>.weight" (ones) and, with bias, "<name>.bias" (zeros).
func NewLayerNorm(ps *Params, name string, d int, bias bool) *LayerNormLayer {
	ln := &LayerNormLayer{Weight: ps.New(name+".weight", d)}
	Fill(ln.Weight, 1)
	if bias {
		ln.Bias = ps.New(name+".bias", d)
	} else {
		ln.zero = &Param{Name: name + ".zero", Value: tensor.New(tensor.Of(ps.Dtype), tensor.WithShape(d)),
			nodes: map[*G.ExprGraph]*G.Node{}}
	}
	return ln
}

// Forward normalises each row of x.
func (ln *LayerNormLayer) Forward(x *G.Node) *G.Node {
	g := x.Graph()
	shift := ln.zero
	if ln.Bias != nil {
		shift = ln.Bias
	}
	return LayerNorm(x, ln.Weight.Node(g), shift.Node(g), 1e-5)
}
