package graph

import (
	G "gorgonia.org/gorgonia"

	"github.com/aigc-go/aigc/internal/rng"
)

// Conv2D is torch.nn.Conv2d with square kernels and zero padding: y = Conv2d(x, W) + b
// with W of shape [out, in, k, k] and b of shape [out].
type Conv2D struct {
	In, Out, Kernel, Stride, Pad int
	Weight, Bias                 *Param
}

// NewConv2D adds "<name>.weight" and "<name>.bias" to ps, initialised as PyTorch does:
// both U(±1/√fan_in) with fan_in = in·k·k.
func NewConv2D(ps *Params, name string, in, out, kernel, stride, pad int, r *rng.RNG) *Conv2D {
	c := &Conv2D{
		In: in, Out: out, Kernel: kernel, Stride: stride, Pad: pad,
		Weight: ps.New(name+".weight", out, in, kernel, kernel),
		Bias:   ps.New(name+".bias", out),
	}
	bound := fanInBound(in * kernel * kernel)
	Uniform(c.Weight, bound, r)
	Uniform(c.Bias, bound, r)
	return c
}

// Forward applies the layer to x of shape [batch, in, h, w].
func (c *Conv2D) Forward(x *G.Node) *G.Node {
	g := x.Graph()
	return AddBias(Conv2d(x, c.Weight.Node(g), c.Stride, c.Pad), c.Bias.Node(g), 1)
}

// ConvTranspose2D is torch.nn.ConvTranspose2d with square kernels and no output padding:
// y = ConvTranspose2d(x, W) + b with W of shape [in, out, k, k] (PyTorch's layout) and b
// of shape [out]. An h×w input gives (h−1)·stride − 2·pad + k rows and likewise columns.
type ConvTranspose2D struct {
	In, Out, Kernel, Stride, Pad int
	Weight, Bias                 *Param
}

// NewConvTranspose2D adds "<name>.weight" and "<name>.bias" to ps, initialised as PyTorch
// does: both U(±1/√fan_in), where PyTorch takes fan_in from the weight's second dimension,
// out·k·k.
func NewConvTranspose2D(ps *Params, name string, in, out, kernel, stride, pad int, r *rng.RNG) *ConvTranspose2D {
	c := &ConvTranspose2D{
		In: in, Out: out, Kernel: kernel, Stride: stride, Pad: pad,
		Weight: ps.New(name+".weight", in, out, kernel, kernel),
		Bias:   ps.New(name+".bias", out),
	}
	bound := fanInBound(out * kernel * kernel)
	Uniform(c.Weight, bound, r)
	Uniform(c.Bias, bound, r)
	return c
}

// Forward applies the layer to x of shape [batch, in, h, w].
func (c *ConvTranspose2D) Forward(x *G.Node) *G.Node {
	g := x.Graph()
	return AddBias(ConvTranspose2d(x, c.Weight.Node(g), c.Stride, c.Pad), c.Bias.Node(g), 1)
}
