package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// keepOp copies its input. Compile puts one on every output that other nodes also read:
// Gorgonia's compiler lets an elementwise op overwrite its input in place once no later
// instruction reads it, and it does not count being an output as a read, so an output
// that feeds, say, an addition would be clobbered by the sum. A node with no readers is
// kept intact to the end of the run.
type keepOp struct {
	pure
	dims int
}

func (op keepOp) Arity() int { return 1 }
func (op keepOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	if op.dims == 0 {
		return hm.NewFnType(a, a)
	}
	t := G.TensorType{Dims: op.dims, Of: a}
	return hm.NewFnType(t, t)
}
func (op keepOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op keepOp) Do(vs ...G.Value) (G.Value, error)                 { return op.UsePreallocDo(nil, vs...) }
func (op keepOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	if len(vs) != 1 {
		return nil, fmt.Errorf("keep: want 1 input, got %d", len(vs))
	}
	switch v := vs[0].(type) {
	case *G.F32:
		c := *v
		return &c, nil
	case *G.F64:
		c := *v
		return &c, nil
	}
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	y := output(prealloc, x.Dtype(), x.Shape())
	err = tensor.Copy(y, x)
	return y, err
}
func (op keepOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.Keep{%d}", op.dims) }
func (op keepOp) Hashcode() uint32      { return hashOf(op) }
func (op keepOp) String() string        { return "Keep" }

// keep returns a copy of n that nothing else reads.
func keep(n *G.Node) (*G.Node, error) {
	return G.ApplyOp(keepOp{dims: n.Dims()}, n)
}
