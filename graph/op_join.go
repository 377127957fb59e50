package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
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

func (op joinOp) spec() exec.Op { return exec.Join{Axis: op.axis} }

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

func (op joinOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op joinOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
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

func (op blockOp) spec() exec.Op { return exec.Block{Axis: op.axis, Start: op.start, Size: op.size} }

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
func (op blockOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op blockOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}

func (op blockOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.Block{%d,%d,%d,%d}", op.axis, op.start, op.size, op.dims)
}
func (op blockOp) Hashcode() uint32 { return hashOf(op) }
func (op blockOp) String() string {
	return fmt.Sprintf("Block{axis=%d, %d:%d}", op.axis, op.start, op.start+op.size)
}

// Rows returns rows [start, start+size) of x (along axis 0); its gradient places the
// rows' gradient back among zeros.
func Rows(x *G.Node, start, size int) *G.Node {
	return must(G.ApplyOp(blockOp{axis: 0, start: start, size: size, dims: x.Dims()}, x))
}

func (op blockOp) DiffWRT(int) []bool { return []bool{true} }
func (op blockOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(blockPadOp{axis: op.axis, start: op.start, total: in[0].Shape()[op.axis], dims: op.dims}, grad)
	return G.Nodes{dx}, err
}

// blockPadOp is blockOp's adjoint: its input placed at [start, start+size) along axis of
// a zero tensor with total there.
type blockPadOp struct {
	pure
	axis, start, total, dims int
}

func (op blockPadOp) spec() exec.Op {
	return exec.BlockPad{Axis: op.axis, Start: op.start, Total: op.total}
}
func (op blockPadOp) Arity() int { return 1 }
func (op blockPadOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: op.dims, Of: a}
	return hm.NewFnType(t, t)
}
func (op blockPadOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	s := ss[0].Clone()
	if op.start+s[op.axis] > op.total {
		return nil, fmt.Errorf("%v: block of %v past the end", op, ss[0])
	}
	s[op.axis] = op.total
	return s, nil
}
func (op blockPadOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op blockPadOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op blockPadOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.BlockPad{%d,%d,%d,%d}", op.axis, op.start, op.total, op.dims)
}
func (op blockPadOp) Hashcode() uint32 { return hashOf(op) }
func (op blockPadOp) String() string {
	return fmt.Sprintf("BlockPad{axis=%d, at %d of %d}", op.axis, op.start, op.total)
}
