package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// AddBias returns x + b with the vector b broadcast along axis of x: axis 1 of a [batch,
// features] matrix for Linear, axis 1 of [batch, channels, h, w] for a convolution.
func AddBias(x, b *G.Node, axis int) *G.Node {
	return must(G.ApplyOp(addBiasOp{AddBias: exec.AddBias{Axis: axis}, dims: x.Dims()}, x, b))
}

type addBiasOp struct {
	pure
	exec.AddBias
	dims int
}

func (op addBiasOp) spec() exec.Op { return op.AddBias }
func (op addBiasOp) Arity() int    { return 2 }
func (op addBiasOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: op.dims, Of: a}
	return hm.NewFnType(t, G.TensorType{Dims: 1, Of: a}, t)
}
func (op addBiasOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if op.Axis >= ss[0].Dims() || ss[1].TotalSize() != ss[0][op.Axis] {
		return nil, fmt.Errorf("%v: bias of shape %v does not fit axis %d of %v", op, ss[1], op.Axis, ss[0])
	}
	return ss[0].Clone(), nil
}
func (op addBiasOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op addBiasOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op addBiasOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.AddBias{%d,%d}", op.Axis, op.dims) }
func (op addBiasOp) Hashcode() uint32      { return hashOf(op) }
func (op addBiasOp) String() string        { return fmt.Sprintf("AddBias{axis=%d}", op.Axis) }
func (op addBiasOp) DiffWRT(int) []bool    { return []bool{true, true} }

// SymDiff: the gradient flows unchanged to x, and is summed over every axis but the bias
// axis for b.
func (op addBiasOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	db, err := G.ApplyOp(biasGradOp{BiasGrad: exec.BiasGrad{Axis: op.Axis}, dims: op.dims}, grad)
	return G.Nodes{grad, db}, err
}

// biasGradOp sums dy over every axis but the bias axis.
type biasGradOp struct {
	pure
	exec.BiasGrad
	dims int
}

func (op biasGradOp) spec() exec.Op { return op.BiasGrad }
func (op biasGradOp) Arity() int    { return 1 }
func (op biasGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.dims, Of: a}, G.TensorType{Dims: 1, Of: a})
}
func (op biasGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{ss[0][op.Axis]}, nil
}
func (op biasGradOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op biasGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op biasGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.BiasGrad{%d,%d}", op.Axis, op.dims)
}
func (op biasGradOp) Hashcode() uint32 { return hashOf(op) }
func (op biasGradOp) String() string   { return fmt.Sprintf("BiasGrad{axis=%d}", op.Axis) }
