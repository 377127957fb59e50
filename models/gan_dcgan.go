package models

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

// The DCGAN (Radford et al. 2015) for 28×28 images, with C = channels:
//
//	G  z → Linear(latent, 2C·7·7) → BN → ReLU → [2C,7,7]
//	     → ConvT(2C→C, 4, stride 2, pad 1) → BN → ReLU → [C,14,14]
//	     → ConvT(C→1, 4, stride 2, pad 1) → tanh        → [1,28,28]
//	D  x → Conv(1→C, 4, 2, 1) → LeakyReLU → dropout → [C,14,14]
//	     → Conv(C→2C, 4, 2, 1) → BN → LeakyReLU → dropout → [2C,7,7] → Linear(2C·7·7, 1)
//
// Strided convolutions replace pooling in D, transposed convolutions upsample in G, and
// batch normalisation sits everywhere but G's output and D's input, as the paper advises.

type dcGenerator struct {
	c          int
	project    *graph.Linear
	bn0, bn1   *graph.BatchNorm
	up1, up2   *graph.ConvTranspose2D
	outH, outW int
}

// dcSide is the side of the smallest feature map: two stride-2 layers from 28 leave 7.
func dcSide(env Env) (int, error) {
	if env.ImageH != env.ImageW || env.ImageH%4 != 0 {
		return 0, fmt.Errorf("dcgan: images must be square with a side divisible by 4 (got %dx%d)", env.ImageH, env.ImageW)
	}
	return env.ImageH / 4, nil
}

func newDCGenerator(ps *graph.Params, cfg *GANConfig, env Env, r *rng.RNG) (*dcGenerator, error) {
	s, err := dcSide(env)
	if err != nil {
		return nil, err
	}
	c := cfg.Channels
	return &dcGenerator{
		c:       c,
		project: graph.NewLinear(ps, "generator.project", cfg.Latent, 2*c*s*s, r),
		bn0:     graph.NewBatchNorm(ps, "generator.bn0", 2*c),
		up1:     graph.NewConvTranspose2D(ps, "generator.up1", 2*c, c, 4, 2, 1, r),
		bn1:     graph.NewBatchNorm(ps, "generator.bn1", c),
		up2:     graph.NewConvTranspose2D(ps, "generator.up2", c, 1, 4, 2, 1, r),
		outH:    env.ImageH, outW: env.ImageW,
	}, nil
}

func (n *dcGenerator) forward(z *G.Node, training bool) *G.Node {
	b, s := z.Shape()[0], n.outH/4
	h := graph.Reshape(n.project.Forward(z), b, 2*n.c, s, s)
	h = graph.ReLU(n.bn0.Forward(h, training))
	h = graph.ReLU(n.bn1.Forward(n.up1.Forward(h), training))
	return graph.Reshape(graph.Tanh(n.up2.Forward(h)), b, n.outH*n.outW)
}

type dcDiscriminator struct {
	c            int
	conv1, conv2 *graph.Conv2D
	bn2          *graph.BatchNorm
	drop         *graph.Dropout
	out          *graph.Linear
	h, w         int
	slope        float64
}

func newDCDiscriminator(ps *graph.Params, cfg *GANConfig, env Env, r *rng.RNG) (*dcDiscriminator, error) {
	s, err := dcSide(env)
	if err != nil {
		return nil, err
	}
	c := cfg.Channels
	slope := cfg.LeakySlope
	return &dcDiscriminator{
		c:     c,
		conv1: graph.NewConv2D(ps, "discriminator.conv1", 1, c, 4, 2, 1, r),
		conv2: graph.NewConv2D(ps, "discriminator.conv2", c, 2*c, 4, 2, 1, r),
		bn2:   graph.NewBatchNorm(ps, "discriminator.bn2", 2*c),
		drop:  graph.NewDropout(cfg.Dropout),
		out:   graph.NewLinear(ps, "discriminator.out", 2*c*s*s, 1, r),
		h:     env.ImageH, w: env.ImageW,
		slope: slope,
	}, nil
}

func (n *dcDiscriminator) forward(x *G.Node, training bool) *G.Node {
	b := x.Shape()[0]
	h := n.drop.Forward(leaky(n.conv1.Forward(graph.Reshape(x, b, 1, n.h, n.w)), n.slope), training)
	h = n.drop.Forward(leaky(n.bn2.Forward(n.conv2.Forward(h), training), n.slope), training)
	return n.out.Forward(graph.Reshape(h, b, 2*n.c*(n.h/4)*(n.w/4)))
}

func (n *dcDiscriminator) fillMasks(g *G.ExprGraph, r *rng.RNG) { n.drop.Fill(g, r) }
