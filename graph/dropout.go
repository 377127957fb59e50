package graph

import (
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/internal/rng"
)

// Dropout zeroes each element of its input with probability P while training and scales
// the others by 1/(1-P) (inverted dropout), so that evaluation is the identity. Each
// application in a graph draws its mask on the device from a seed of its own
// (exec.Dropout: a counter-based generator, the same bits on every device), and Fill
// draws fresh seeds from aigc's RNG before each run: no mask is stored, none crosses to
// a GPU, and the backward pass regenerates the forward's mask from the same seed.
type Dropout struct {
	P     float64
	seeds map[*G.ExprGraph][]*uint64
}

// dropoutIDs tells applications apart: Gorgonia merges nodes that hash alike, and two
// applications to one input must keep masks of their own.
var dropoutIDs atomic.Int64

// NewDropout returns dropout with probability p (0 disables it).
func NewDropout(p float64) *Dropout {
	return &Dropout{P: p, seeds: map[*G.ExprGraph][]*uint64{}}
}

// Forward applies dropout to x in training mode; otherwise it returns x.
func (d *Dropout) Forward(x *G.Node, training bool) *G.Node {
	if !training || d.P == 0 {
		return x
	}
	seed := new(uint64)
	d.seeds[x.Graph()] = append(d.seeds[x.Graph()], seed)
	return must(G.ApplyOp(dropoutOp{p: d.P, seed: seed, id: dropoutIDs.Add(1)}, x))
}

// Fill draws this run's seed for every application of d in g. The ranks of a
// data-parallel run (rng.RNG.Shard) draw the same seed and mix their rank into it, so the
// masks of their rows differ as those of one process's rows do.
func (d *Dropout) Fill(g *G.ExprGraph, r *rng.RNG) {
	for _, s := range d.seeds[g] {
		*s = r.Uint64() ^ uint64(r.Rank())*0x9e3779b97f4a7c15
	}
}

// dropoutOp is x ⊙ mask(seed); its gradient is the same op on dy (the same mask).
type dropoutOp struct {
	pure
	p    float64
	seed *uint64
	id   int64
}

func (op dropoutOp) spec() exec.Op                                     { return exec.Dropout{P: op.p, Seed: op.seed} }
func (op dropoutOp) Arity() int                                        { return 1 }
func (op dropoutOp) Type() hm.Type                                     { a := hm.TypeVariable('a'); return hm.NewFnType(a, a) }
func (op dropoutOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op dropoutOp) Do(vs ...G.Value) (G.Value, error)                 { return doReference(op, nil, vs) }
func (op dropoutOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op dropoutOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.Dropout{%g,%d}", op.p, op.id) }
func (op dropoutOp) Hashcode() uint32      { return hashOf(op) }
func (op dropoutOp) String() string        { return fmt.Sprintf("Dropout(%g)", op.p) }
func (op dropoutOp) DiffWRT(int) []bool    { return []bool{true} }
func (op dropoutOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	// The gradient's own id: a node of its own, reading the forward's seed.
	dx, err := G.ApplyOp(dropoutOp{p: op.p, seed: op.seed, id: dropoutIDs.Add(1)}, grad)
	return G.Nodes{dx}, err
}
