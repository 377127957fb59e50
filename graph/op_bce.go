package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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

func (op bceLogitsOp) Arity() int { return 2 }
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
func (op bceLogitsOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op bceLogitsOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	l, t := ts[0], ts[1]
	rows, cols := l.Shape()[0], l.Shape()[1]
	out := output(prealloc, l.Dtype(), tensor.Shape{rows})
	switch l.Dtype() {
	case tensor.Float32:
		bceRows(out.Data().([]float32), l.Data().([]float32), t.Data().([]float32), cols)
	case tensor.Float64:
		bceRows(out.Data().([]float64), l.Data().([]float64), t.Data().([]float64), cols)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, l.Dtype())
	}
	return out, nil
}
func (op bceLogitsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.BCEWithLogits") }
func (op bceLogitsOp) Hashcode() uint32      { return hashOf(op) }
func (op bceLogitsOp) String() string        { return "BCEWithLogits" }
func (op bceLogitsOp) DiffWRT(int) []bool    { return []bool{true, false} }
func (op bceLogitsOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dl, err := G.ApplyOp(bceLogitsGradOp{}, in[0], in[1], grad)
	return G.Nodes{dl, nil}, err
}

// bceRows is the forward pass, one row per output; rows are shared among threads since
// log1p and exp per pixel make it the costliest elementwise work of an image model.
func bceRows[T float](out, l, t []T, cols int) {
	parallelFor(len(out), 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var s float64 // accumulate a row of 784 terms in float64: cheap and exact enough
			for i := r * cols; i < (r+1)*cols; i++ {
				x := float64(l[i])
				s += max(x, 0) - float64(t[i])*x + math.Log1p(math.Exp(-math.Abs(x)))
			}
			out[r] = T(s)
		}
	})
}

// bceLogitsGradOp computes dl[r,i] = (sigmoid(l[r,i]) - t[r,i]) · g[r].
type bceLogitsGradOp struct{ pure }

func (op bceLogitsGradOp) Arity() int { return 3 }
func (op bceLogitsGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, G.TensorType{Dims: 1, Of: a}, m)
}
func (op bceLogitsGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op bceLogitsGradOp) Do(vs ...G.Value) (G.Value, error)                 { return op.UsePreallocDo(nil, vs...) }
func (op bceLogitsGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 3, vs)
	if err != nil {
		return nil, err
	}
	l, t, g := ts[0], ts[1], ts[2]
	dl := output(prealloc, l.Dtype(), l.Shape())
	cols := l.Shape()[1]
	switch l.Dtype() {
	case tensor.Float32:
		bceGrad(dl.Data().([]float32), l.Data().([]float32), t.Data().([]float32), g.Data().([]float32), cols)
	case tensor.Float64:
		bceGrad(dl.Data().([]float64), l.Data().([]float64), t.Data().([]float64), g.Data().([]float64), cols)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, l.Dtype())
	}
	return dl, nil
}
func (op bceLogitsGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.BCEWithLogitsGrad") }
func (op bceLogitsGradOp) Hashcode() uint32      { return hashOf(op) }
func (op bceLogitsGradOp) String() string        { return "BCEWithLogitsGrad" }

func bceGrad[T float](dl, l, t, g []T, cols int) {
	parallelFor(len(g), 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for i := r * cols; i < (r+1)*cols; i++ {
				dl[i] = (T(sigmoid64(float64(l[i]))) - t[i]) * g[r]
			}
		}
	})
}
