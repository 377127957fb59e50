package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Join concatenates tensors along axis 0 (stacking rows, or vectors end to end) or axis
// 1 of matrices (side by side columns, as [x; h] of the Elman RNN), and gives each input
// its block of the gradient.
//
// aigc's own, not Gorgonia's Concat: that one's gradient is a set of views into one
// buffer, and in a long unrolled float32 graph the TapeMachine let later in-place work
// clobber them (the Elman RNN's gradients went wrong from about 10 steps on while a
// float64 check of the same graph passed). Join and its gradient copy.
func Join(axis int, xs ...*G.Node) *G.Node {
	if len(xs) == 1 {
		return xs[0]
	}
	return must(G.ApplyOp(joinOp{axis: axis, n: len(xs), dims: xs[0].Dims()}, xs...))
}

type joinOp struct {
	pure
	axis, n, dims int
}

func (op joinOp) Arity() int { return op.n }
func (op joinOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, op.n+1)
	for i := range ts {
		ts[i] = G.TensorType{Dims: op.dims, Of: a}
	}
	return hm.NewFnType(ts...)
}

func (op joinOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if op.axis < 0 || op.axis >= op.dims || op.dims > 2 {
		return nil, fmt.Errorf("%v: joins vectors and matrices along axis 0 or 1 only", op)
	}
	out := ss[0].Clone()
	for _, s := range ss[1:] {
		if s.Dims() != op.dims {
			return nil, fmt.Errorf("%v: shapes %v and %v", op, ss[0], s)
		}
		for d := range s {
			if d != op.axis && s[d] != out[d] {
				return nil, fmt.Errorf("%v: shapes %v and %v differ off axis %d", op, ss[0], s, op.axis)
			}
		}
		out[op.axis] += s[op.axis]
	}
	return out, nil
}

func (op joinOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op joinOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), op.n, vs)
	if err != nil {
		return nil, err
	}
	shapes := make([]G.DimSizer, len(ts))
	for i, t := range ts {
		shapes[i] = t.Shape()
	}
	shape, err := op.InferShape(shapes...)
	if err != nil {
		return nil, err
	}
	y := output(prealloc, ts[0].Dtype(), shape)
	switch ts[0].Dtype() {
	case tensor.Float32:
		join(op.axis, y.Float32s(), shape, float32s(ts), ts)
	case tensor.Float64:
		join(op.axis, y.Float64s(), shape, float64s(ts), ts)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, ts[0].Dtype())
	}
	return y, nil
}

// join copies the inputs into y: one after the other along axis 0, or row by row side by
// side along axis 1.
func join[T float](axis int, y []T, shape tensor.Shape, xs [][]T, ts []*tensor.Dense) {
	if axis == 0 {
		off := 0
		for _, x := range xs {
			off += copy(y[off:], x)
		}
		return
	}
	rows, width, col := shape[0], shape[1], 0
	for i, x := range xs {
		w := ts[i].Shape()[1]
		for r := range rows {
			copy(y[r*width+col:r*width+col+w], x[r*w:(r+1)*w])
		}
		col += w
	}
}

func (op joinOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.Join{%d,%d,%d}", op.axis, op.n, op.dims)
}
func (op joinOp) Hashcode() uint32 { return hashOf(op) }
func (op joinOp) String() string   { return fmt.Sprintf("Join{axis=%d}", op.axis) }
func (op joinOp) DiffWRT(int) []bool {
	d := make([]bool, op.n)
	for i := range d {
		d[i] = true
	}
	return d
}

// SymDiff: input i's gradient is its block of the output's.
func (op joinOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, len(in))
	start := 0
	for i, x := range in {
		size := x.Shape()[op.axis]
		var err error
		if out[i], err = G.ApplyOp(blockOp{axis: op.axis, start: start, size: size, dims: op.dims}, grad); err != nil {
			return nil, err
		}
		start += size
	}
	return out, nil
}

// blockOp copies out rows [start, start+size) (axis 0) or columns (axis 1).
type blockOp struct {
	pure
	axis, start, size, dims int
}

func (op blockOp) Arity() int { return 1 }
func (op blockOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: op.dims, Of: a}
	return hm.NewFnType(t, t)
}
func (op blockOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	s := ss[0].Clone()
	if op.start+op.size > s[op.axis] {
		return nil, fmt.Errorf("%v: block past the end of %v", op, ss[0])
	}
	s[op.axis] = op.size
	return s, nil
}
func (op blockOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op blockOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	x := ts[0]
	shape, err := op.InferShape(x.Shape())
	if err != nil {
		return nil, err
	}
	y := output(prealloc, x.Dtype(), shape)
	switch x.Dtype() {
	case tensor.Float32:
		block(op, y.Float32s(), x.Float32s(), x.Shape())
	case tensor.Float64:
		block(op, y.Float64s(), x.Float64s(), x.Shape())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
}

func block[T float](op blockOp, y, x []T, s tensor.Shape) {
	inner := 1
	for _, d := range s[1:] {
		inner *= d
	}
	if op.axis == 0 {
		copy(y, x[op.start*inner:(op.start+op.size)*inner])
		return
	}
	w := s[1]
	for r := range s[0] {
		copy(y[r*op.size:(r+1)*op.size], x[r*w+op.start:r*w+op.start+op.size])
	}
}

func (op blockOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.Block{%d,%d,%d,%d}", op.axis, op.start, op.size, op.dims)
}
func (op blockOp) Hashcode() uint32 { return hashOf(op) }
func (op blockOp) String() string {
	return fmt.Sprintf("Block{axis=%d, %d:%d}", op.axis, op.start, op.start+op.size)
}
