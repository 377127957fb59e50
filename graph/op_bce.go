package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// BCEWithLogits returns, for each row of logits l and targets t in [0,1] (both [batch,
// n]), the binary cross-entropy of sigmoid(l) against t summed over the row: a [batch]
// vector. It is computed from the logits as softplus(l) - t·l, written
// max(l,0) - t·l + log1p(e^-|l|) so that it neither overflows nor takes the log of a
// sigmoid that rounded to 0 or 1. Its gradient with respect to l is sigmoid(l) - t; the
// targets get none.
func BCEWithLogits(logits, targets *G.Node) *G.Node {
	return must(G.ApplyOp(bceLogitsOp{}, logits, targets))
}

type bceLogitsOp struct{ pure }

func (op bceLogitsOp) spec() exec.Op { return exec.BCEWithLogits{} }
func (op bceLogitsOp) Arity() int    { return 2 }
func (op bceLogitsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, G.TensorType{Dims: 1, Of: a})
}
func (op bceLogitsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if ss[0].Dims() != 2 || !ss[0].Eq(ss[1]) {
		return nil, fmt.Errorf("%v: logits %v and targets %v must be the same matrix shape", op, ss[0], ss[1])
	}
	return tensor.Shape{ss[0][0]}, nil
}
func (op bceLogitsOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op bceLogitsOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op bceLogitsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.BCEWithLogits") }
func (op bceLogitsOp) Hashcode() uint32      { return hashOf(op) }
func (op bceLogitsOp) String() string        { return "BCEWithLogits" }
func (op bceLogitsOp) DiffWRT(int) []bool    { return []bool{true, false} }
func (op bceLogitsOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dl, err := G.ApplyOp(bceLogitsGradOp{}, in[0], in[1], grad)
	return G.Nodes{dl, nil}, err
}

// bceLogitsGradOp computes dl[r,i] = (sigmoid(l[r,i]) - t[r,i]) · g[r].
type bceLogitsGradOp struct{ pure }

func (op bceLogitsGradOp) spec() exec.Op { return exec.BCEWithLogitsGrad{} }
func (op bceLogitsGradOp) Arity() int    { return 3 }
func (op bceLogitsGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, G.TensorType{Dims: 1, Of: a}, m)
}
func (op bceLogitsGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op bceLogitsGradOp) Do(vs ...G.Value) (G.Value, error)                 { return doReference(op, nil, vs) }
func (op bceLogitsGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op bceLogitsGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.BCEWithLogitsGrad") }
func (op bceLogitsGradOp) Hashcode() uint32      { return hashOf(op) }
func (op bceLogitsGradOp) String() string        { return "BCEWithLogitsGrad" }
