package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AddBias returns x + b with the vector b broadcast along axis of x: axis 1 of a [batch,
// features] matrix for Linear, axis 1 of [batch, channels, h, w] for a convolution.
func AddBias(x, b *G.Node, axis int) *G.Node {
	return must(G.ApplyOp(addBiasOp{axis: axis, dims: x.Dims()}, x, b))
}

type addBiasOp struct {
	pure
	axis, dims int
}

func (op addBiasOp) Arity() int { return 2 }
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
	if op.axis >= ss[0].Dims() || ss[1].TotalSize() != ss[0][op.axis] {
		return nil, fmt.Errorf("%v: bias of shape %v does not fit axis %d of %v", op, ss[1], op.axis, ss[0])
	}
	return ss[0].Clone(), nil
}

// split views x as [outer, n, inner] around the bias axis.
func (op addBiasOp) split(s tensor.Shape) (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		switch {
		case i < op.axis:
			outer *= d
		case i > op.axis:
			inner *= d
		}
	}
	return outer, s[op.axis], inner
}

func (op addBiasOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op addBiasOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	x, b := ts[0], ts[1]
	y := output(prealloc, x.Dtype(), x.Shape())
	outer, n, inner := op.split(x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		addBias(y.Data().([]float32), x.Data().([]float32), b.Data().([]float32), outer, n, inner)
	case tensor.Float64:
		addBias(y.Data().([]float64), x.Data().([]float64), b.Data().([]float64), outer, n, inner)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
}
func (op addBiasOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.AddBias{%d,%d}", op.axis, op.dims) }
func (op addBiasOp) Hashcode() uint32      { return hashOf(op) }
func (op addBiasOp) String() string        { return fmt.Sprintf("AddBias{axis=%d}", op.axis) }
func (op addBiasOp) DiffWRT(int) []bool    { return []bool{true, true} }

// SymDiff: the gradient flows unchanged to x, and is summed over every axis but the bias
// axis for b.
func (op addBiasOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	db, err := G.ApplyOp(biasGradOp{fwd: op}, grad)
	return G.Nodes{grad, db}, err
}

func addBias[T float](y, x, b []T, outer, n, inner int) {
	i := 0
	for range outer {
		for c := range n {
			bc := b[c]
			for range inner {
				y[i] = x[i] + bc
				i++
			}
		}
	}
}

// biasGradOp sums dy over every axis but the bias axis.
type biasGradOp struct {
	pure
	fwd addBiasOp
}

func (op biasGradOp) Arity() int { return 1 }
func (op biasGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.fwd.dims, Of: a}, G.TensorType{Dims: 1, Of: a})
}
func (op biasGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{ss[0][op.fwd.axis]}, nil
}
func (op biasGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op biasGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	dy := ts[0]
	outer, n, inner := op.fwd.split(dy.Shape())
	db := output(prealloc, dy.Dtype(), tensor.Shape{n})
	switch dy.Dtype() {
	case tensor.Float32:
		sumBias(db.Data().([]float32), dy.Data().([]float32), outer, n, inner)
	case tensor.Float64:
		sumBias(db.Data().([]float64), dy.Data().([]float64), outer, n, inner)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, dy.Dtype())
	}
	return db, nil
}
func (op biasGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.BiasGrad{%d,%d}", op.fwd.axis, op.fwd.dims)
}
func (op biasGradOp) Hashcode() uint32 { return hashOf(op) }
func (op biasGradOp) String() string   { return fmt.Sprintf("BiasGrad{axis=%d}", op.fwd.axis) }

func sumBias[T float](db, dy []T, outer, n, inner int) {
	clear(db)
	i := 0
	for range outer {
		for c := range n {
			var s T
			for range inner {
				s += dy[i]
				i++
			}
			db[c] += s
		}
	}
}
