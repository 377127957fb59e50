package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// The LSTM cell (torch.nn.LSTM's equations) on the pre-activation gates a = [a_i a_f a_g
// a_o] (one [B, 4H] matrix product per layer and step, PyTorch's gate order):
//
//	i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)
//	c = f⊙c_prev + i⊙g                       LSTMCell(a, c_prev)
//	h = o⊙tanh(c)                            LSTMHidden(a, c)
//
// Two fused Ops instead of a dozen element-wise ones: each reads the gates it needs and
// recomputes their activations in the backward pass rather than storing them.

// LSTMCell returns the new cell state c = σ(a_f)⊙cPrev + σ(a_i)⊙tanh(a_g), [B, H].
func LSTMCell(gates, cPrev *G.Node) *G.Node {
	return must(G.ApplyOp(lstmOp{kind: lstmC}, gates, cPrev))
}

// LSTMHidden returns the new hidden state h = σ(a_o)⊙tanh(c), [B, H].
func LSTMHidden(gates, c *G.Node) *G.Node {
	return must(G.ApplyOp(lstmOp{kind: lstmH}, gates, c))
}

type lstmKind int

const (
	lstmC          lstmKind = iota // (a, c_prev) → c
	lstmH                          // (a, c) → h
	lstmCGradGates                 // (a, c_prev, dc) → da (i, f, g parts)
	lstmCGradPrev                  // (a, dc) → dc_prev = f⊙dc
	lstmHGradGates                 // (a, c, dh) → da (o part)
	lstmHGradC                     // (a, c, dh) → dc = o⊙(1 − tanh²c)⊙dh
)

var lstmNames = [...]string{"LSTMCell", "LSTMHidden", "LSTMCellGradGates", "LSTMCellGradPrev",
	"LSTMHiddenGradGates", "LSTMHiddenGradC"}

type lstmOp struct {
	pure
	kind lstmKind
}

func (op lstmOp) spec() exec.Op { return exec.LSTMCell{Fn: exec.LSTMCellFn(op.kind)} }

func (op lstmOp) Arity() int {
	switch op.kind {
	case lstmCGradGates, lstmHGradGates, lstmHGradC:
		return 3
	}
	return 2
}

// gatesOut reports whether the op's output has the gates' shape [B, 4H] (else [B, H]).
func (op lstmOp) gatesOut() bool { return op.kind == lstmCGradGates || op.kind == lstmHGradGates }

func (op lstmOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	ts := make([]hm.Type, op.Arity()+1)
	for i := range ts {
		ts[i] = m
	}
	return hm.NewFnType(ts...)
}

func (op lstmOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	a := ss[0]
	if a.Dims() != 2 || a[1]%4 != 0 || a[1] == 0 {
		return nil, fmt.Errorf("%v: gates must be [B, 4H], got %v", op, a)
	}
	state := tensor.Shape{a[0], a[1] / 4}
	for _, s := range ss[1:] {
		if !s.Eq(state) {
			return nil, fmt.Errorf("%v: state of shape %v does not fit gates %v (want %v)", op, s, a, state)
		}
	}
	if op.gatesOut() {
		return a.Clone(), nil
	}
	return state, nil
}

func (op lstmOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op lstmOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}

func (op lstmOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.%s", op) }
func (op lstmOp) Hashcode() uint32      { return hashOf(op) }
func (op lstmOp) String() string        { return lstmNames[op.kind] }

func (op lstmOp) DiffWRT(int) []bool {
	if op.kind == lstmC || op.kind == lstmH {
		return []bool{true, true}
	}
	return make([]bool, op.Arity()) // gradients are not differentiated again
}

func (op lstmOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	apply := func(k lstmKind, ns ...*G.Node) (*G.Node, error) { return G.ApplyOp(lstmOp{kind: k}, ns...) }
	var d0, d1 *G.Node
	var err error
	switch op.kind {
	case lstmC:
		if d0, err = apply(lstmCGradGates, in[0], in[1], grad); err == nil {
			d1, err = apply(lstmCGradPrev, in[0], grad)
		}
	case lstmH:
		if d0, err = apply(lstmHGradGates, in[0], in[1], grad); err == nil {
			d1, err = apply(lstmHGradC, in[0], in[1], grad)
		}
	default:
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	return G.Nodes{d0, d1}, err
}
