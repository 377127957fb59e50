package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// SoftmaxCrossEntropy returns, for logits of shape [N, K] and labels [N] holding class
// indices 0..K−1 as floats, the cross-entropy of softmax(logits[r]) against class
// labels[r] for every row r: logsumexp(logits[r]) − logits[r, labels[r]], a [N] vector
// (torch.nn.functional.cross_entropy with reduction='none'). The row maximum is subtracted
// before exponentiating, so any finite logits give a finite loss. The gradient with respect
// to the logits is (softmax(logits[r]) − onehot(labels[r]))·g[r]; the labels get none. A
// label that is not an integer in [0, K) makes the run fail with an error naming its row.
//
// The row statistics (maximum and log of the shifted sum of exponentials) are a node of
// their own, [N, 2], read by the loss and by its gradient: the backward pass takes one
// exponential per logit, keeps no state outside the graph, and always runs after the
// statistics of the same Run, which are among its inputs.
func SoftmaxCrossEntropy(logits, labels *G.Node) *G.Node {
	stats := must(G.ApplyOp(xentStatsOp{}, logits))
	return must(G.ApplyOp(xentOp{}, logits, labels, stats))
}

// xentCheck validates logits [N, K], labels [N] and (when given) row statistics [N, 2].
func xentCheck(op fmt.Stringer, ss []tensor.Shape) error {
	l := ss[0]
	if l.Dims() != 2 || l[1] < 1 {
		return fmt.Errorf("%v: logits must be [N, K] with K ≥ 1, got %v", op, l)
	}
	if len(ss) > 1 && (ss[1].Dims() != 1 || ss[1][0] != l[0]) {
		return fmt.Errorf("%v: labels of shape %v do not fit logits %v (want [%d])", op, ss[1], l, l[0])
	}
	if len(ss) > 2 && (ss[2].Dims() != 2 || ss[2][0] != l[0] || ss[2][1] != 2) {
		return fmt.Errorf("%v: row statistics of shape %v do not fit logits %v (want [%d 2])", op, ss[2], l, l[0])
	}
	return nil
}

// xentStatsOp computes, for each row of the logits, its maximum m and log Σ e^(x−m).
type xentStatsOp struct{ pure }

func (op xentStatsOp) spec() exec.Op { return exec.XentStats{} }

func (op xentStatsOp) Arity() int { return 1 }
func (op xentStatsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m)
}
func (op xentStatsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := xentCheck(op, ss); err != nil {
		return nil, err
	}
	return tensor.Shape{ss[0][0], 2}, nil
}
func (op xentStatsOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op xentStatsOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op xentStatsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.SoftmaxCrossEntropyStats") }
func (op xentStatsOp) Hashcode() uint32      { return hashOf(op) }
func (op xentStatsOp) String() string        { return "SoftmaxCrossEntropyStats" }

// The statistics are differentiated through the loss: xentOp's SymDiff accounts for them.
func (op xentStatsOp) DiffWRT(int) []bool { return []bool{false} }
func (op xentStatsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v is differentiated through SoftmaxCrossEntropy", op)
}

// xentOp is the per-row loss from the logits, labels and row statistics:
// log Σ e^(x−m) − (x[label] − m).
type xentOp struct{ pure }

func (op xentOp) spec() exec.Op { return exec.Xent{} }

func (op xentOp) Arity() int { return 3 }
func (op xentOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	v := G.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(m, v, m, v)
}
func (op xentOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := xentCheck(op, ss); err != nil {
		return nil, err
	}
	return tensor.Shape{ss[0][0]}, nil
}
func (op xentOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op xentOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op xentOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.SoftmaxCrossEntropy") }
func (op xentOp) Hashcode() uint32      { return hashOf(op) }
func (op xentOp) String() string        { return "SoftmaxCrossEntropy" }

// DiffWRT: the logits only; the gradient through the row statistics is part of theirs.
func (op xentOp) DiffWRT(int) []bool { return []bool{true, false, false} }
func (op xentOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dl, err := G.ApplyOp(xentGradOp{}, in[0], in[1], in[2], grad)
	return G.Nodes{dl, nil, nil}, err
}

// xentGradOp computes dl[r, i] = (e^(l[r,i]−m−lse) − [i = label[r]])·g[r] from the logits,
// labels, row statistics and g.
type xentGradOp struct{ pure }

func (op xentGradOp) spec() exec.Op { return exec.XentGrad{} }

func (op xentGradOp) Arity() int { return 4 }
func (op xentGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	v := G.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(m, v, m, v, m)
}
func (op xentGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := xentCheck(op, ss[:3]); err != nil {
		return nil, err
	}
	if !ss[3].Eq(ss[1]) {
		return nil, fmt.Errorf("%v: gradient %v does not fit logits %v (want [%d])", op, ss[3], ss[0], ss[0][0])
	}
	return ss[0].Clone(), nil
}
func (op xentGradOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op xentGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op xentGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.SoftmaxCrossEntropyGrad") }
func (op xentGradOp) Hashcode() uint32      { return hashOf(op) }
func (op xentGradOp) String() string        { return "SoftmaxCrossEntropyGrad" }
