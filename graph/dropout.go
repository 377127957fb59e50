package graph

import (
	"fmt"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// Dropout zeroes each element of its input with probability P while training and scales
// the others by 1/(1-P) (inverted dropout), so that evaluation is the identity. Masks come
// from aigc's RNG, never Gorgonia's: each application in a graph gets its own mask input,
// and Fill draws fresh masks for all of a graph's applications before each run.
type Dropout struct {
	P     float64
	masks map[*G.ExprGraph][]*G.Node
}

// maskNames numbers mask inputs so that no two share a name.
var maskNames atomic.Int64

// NewDropout returns dropout with probability p (0 disables it).
func NewDropout(p float64) *Dropout {
	return &Dropout{P: p, masks: map[*G.ExprGraph][]*G.Node{}}
}

// Forward applies dropout to x in training mode; otherwise it returns x.
func (d *Dropout) Forward(x *G.Node, training bool) *G.Node {
	if !training || d.P == 0 {
		return x
	}
	g := x.Graph()
	// A distinct name per application: Gorgonia merges nodes that hash alike, and two
	// inputs of one name and shape would become one shared mask.
	mask := Input(g, fmt.Sprintf("dropout_mask_%d", maskNames.Add(1)), x.Dtype(), x.Shape()...)
	d.masks[g] = append(d.masks[g], mask)
	return Mul(x, mask)
}

// Fill draws a new mask for every application of d in g.
func (d *Dropout) Fill(g *G.ExprGraph, r *rng.RNG) {
	keep := float32(1 / (1 - d.P))
	for _, m := range d.masks[g] {
		buf := m.Value().(*tensor.Dense).Float32s()
		for i := range buf {
			if r.Float64() < d.P {
				buf[i] = 0
			} else {
				buf[i] = keep
			}
		}
	}
}
