package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// Element-wise functions, sums and reshapes: aigc's own rather than Gorgonia's, so that
// every node of a program is an op of the executor's catalog with a kernel per device.

// ReLU returns max(x, 0).
func ReLU(x *G.Node) *G.Node { return apply(mapOp{Map: exec.Map{Fn: exec.ReLU}}, x) }

// LeakyReLU returns x for x > 0 and alpha·x otherwise (alpha > 0).
func LeakyReLU(x *G.Node, alpha float64) *G.Node {
	return apply(mapOp{Map: exec.Map{Fn: exec.LeakyReLU, Alpha: alpha}}, x)
}

// Tanh returns tanh(x).
func Tanh(x *G.Node) *G.Node { return apply(mapOp{Map: exec.Map{Fn: exec.Tanh}}, x) }

// Sigmoid returns 1/(1+e^-x).
func Sigmoid(x *G.Node) *G.Node { return apply(mapOp{Map: exec.Map{Fn: exec.Sigmoid}}, x) }

// Exp returns e^x element-wise.
func Exp(x *G.Node) *G.Node { return apply(mapOp{Map: exec.Map{Fn: exec.Exp}}, x) }

// Square returns x² element-wise.
func Square(x *G.Node) *G.Node { return apply(mapOp{Map: exec.Map{Fn: exec.Square}}, x) }

// Add returns a + b element-wise (one shape, or b a constant scalar).
func Add(a, b *G.Node) *G.Node {
	if c, ok := constantScalar(a, b); ok {
		return Affine(a, 1, c)
	}
	return apply(binOp{kind: exec.Add{}}, a, b)
}

// Sub returns a − b element-wise.
func Sub(a, b *G.Node) *G.Node { return apply(binOp{kind: exec.Sub{}}, a, b) }

// Mul returns a ⊙ b element-wise (one shape, or b a constant scalar).
func Mul(a, b *G.Node) *G.Node {
	if c, ok := constantScalar(a, b); ok {
		return Affine(a, c, 0)
	}
	return apply(binOp{kind: exec.Mul{}}, a, b)
}

// constantScalar returns b's value when b is a constant scalar (see Scalar) and a is not a
// scalar.
func constantScalar(a, b *G.Node) (float64, bool) {
	if a.IsScalar() || !b.IsScalar() || b.Op() == nil || b.Value() == nil {
		return 0, false
	}
	v, err := scalarOf(b.Value())
	return v, err == nil
}

// Affine returns scale·x + shift element-wise, for constant scale and shift.
func Affine(x *G.Node, scale, shift float64) *G.Node {
	return apply(affineOp{Affine: exec.Affine{Scale: scale, Shift: shift}}, x)
}

// Sum returns the sum of x along the given axes (all of them when none are given: a
// scalar).
func Sum(x *G.Node, axes ...int) *G.Node {
	return apply(sumOp{Sum: exec.Sum{Axes: axes}, dims: x.Dims()}, x)
}

// Mean returns the mean of all elements of x, a scalar.
func Mean(x *G.Node) *G.Node { return Affine(Sum(x), 1/float64(x.Shape().TotalSize()), 0) }

// Softmax returns the softmax of each row of a matrix (over its last axis).
func Softmax(x *G.Node) *G.Node { return apply(softmaxOp{}, x) }

// Reshape returns x with the given shape (the same number of elements, in the same
// order), such as a generator's [N, C·7·7] → [N, C, 7, 7] or a discriminator's
// [N, C, H, W] → [N, C·H·W]. On the executor it is a view: no copy.
func Reshape(x *G.Node, shape ...int) *G.Node {
	return apply(reshapeOp{from: x.Shape().Clone(), to: tensor.Shape(shape).Clone()}, x)
}

func apply(op G.Op, xs ...*G.Node) *G.Node { return must(G.ApplyOp(op, xs...)) }

// mapOp is y = f(x) for one of the catalog's functions.
type mapOp struct {
	pure
	exec.Map
}

func (op mapOp) spec() exec.Op { return op.Map }
func (op mapOp) Arity() int    { return 1 }
func (op mapOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op mapOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op mapOp) Do(vs ...G.Value) (G.Value, error)                 { return doReference(op, nil, vs) }
func (op mapOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op mapOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.%v{%v}", op.Fn, op.Alpha) }
func (op mapOp) Hashcode() uint32      { return hashOf(op) }
func (op mapOp) String() string {
	if op.Fn == exec.LeakyReLU {
		return fmt.Sprintf("%v{%v}", op.Fn, op.Alpha)
	}
	return op.Fn.String()
}
func (op mapOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff: the derivative reads the output where it can (so the input need not be kept),
// else the input.
func (op mapOp) SymDiff(in G.Nodes, y, grad *G.Node) (G.Nodes, error) {
	from := in[0]
	if op.Fn.FromOutput() {
		from = y
	}
	dx, err := G.ApplyOp(mapGradOp{MapGrad: exec.MapGrad{Fn: op.Fn, Alpha: op.Alpha}}, from, grad)
	return G.Nodes{dx}, err
}

// mapGradOp computes dx = dy · f'(·) from (y or x, dy).
type mapGradOp struct {
	pure
	exec.MapGrad
}

func (op mapGradOp) spec() exec.Op { return op.MapGrad }
func (op mapGradOp) Arity() int    { return 2 }
func (op mapGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op mapGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op mapGradOp) Do(vs ...G.Value) (G.Value, error)                 { return doReference(op, nil, vs) }
func (op mapGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op mapGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.%vGrad{%v}", op.Fn, op.Alpha) }
func (op mapGradOp) Hashcode() uint32      { return hashOf(op) }
func (op mapGradOp) String() string        { return op.Fn.String() + "Grad" }

// binOp is a + b, a − b or a ⊙ b on one shape.
type binOp struct {
	pure
	kind exec.Op
}

func (op binOp) spec() exec.Op { return op.kind }
func (op binOp) Arity() int    { return 2 }
func (op binOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op binOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if !ss[0].Eq(ss[1]) && ss[0].TotalSize() != ss[1].TotalSize() {
		return nil, fmt.Errorf("%v: shapes %v and %v differ", op, ss[0], ss[1])
	}
	return ss[0].Clone(), nil
}
func (op binOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op binOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op binOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.%s", op.kind.Kind()) }
func (op binOp) Hashcode() uint32      { return hashOf(op) }
func (op binOp) String() string        { return op.kind.Kind() }
func (op binOp) DiffWRT(int) []bool    { return []bool{true, true} }
func (op binOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	switch op.kind.(type) {
	case exec.Add:
		return G.Nodes{grad, grad}, nil
	case exec.Sub:
		neg, err := G.ApplyOp(affineOp{Affine: exec.Affine{Scale: -1}}, grad)
		return G.Nodes{grad, neg}, err
	}
	da, err := G.ApplyOp(binOp{kind: exec.Mul{}}, grad, in[1])
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(binOp{kind: exec.Mul{}}, grad, in[0])
	return G.Nodes{da, db}, err
}

// affineOp is scale·x + shift.
type affineOp struct {
	pure
	exec.Affine
}

func (op affineOp) spec() exec.Op { return op.Affine }
func (op affineOp) Arity() int    { return 1 }
func (op affineOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op affineOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op affineOp) Do(vs ...G.Value) (G.Value, error)                 { return doReference(op, nil, vs) }
func (op affineOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op affineOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.Affine{%v,%v}", op.Scale, op.Shift) }
func (op affineOp) Hashcode() uint32      { return hashOf(op) }
func (op affineOp) String() string        { return fmt.Sprintf("Affine{%v·x+%v}", op.Scale, op.Shift) }
func (op affineOp) DiffWRT(int) []bool    { return []bool{true} }
func (op affineOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.Scale == 1 {
		return G.Nodes{grad}, nil
	}
	dx, err := G.ApplyOp(affineOp{Affine: exec.Affine{Scale: op.Scale}}, grad)
	return G.Nodes{dx}, err
}

// sumOp sums over axes; its gradient broadcasts back over them.
type sumOp struct {
	pure
	exec.Sum
	dims int
}

// full reports a sum over every axis, whose result is a scalar.
func (op sumOp) full() bool { return len(op.Axes) == 0 || len(op.Axes) == op.dims }

func (op sumOp) spec() exec.Op { return op.Sum }
func (op sumOp) Arity() int    { return 1 }
func (op sumOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	in := G.TensorType{Dims: op.dims, Of: a}
	if op.dims == 0 {
		return hm.NewFnType(a, a)
	}
	if op.full() {
		return hm.NewFnType(in, a)
	}
	return hm.NewFnType(in, G.TensorType{Dims: op.dims - len(op.Axes), Of: a})
}
func (op sumOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if op.full() {
		return tensor.ScalarShape(), nil
	}
	var out tensor.Shape
	for i, d := range ss[0] {
		if !containsInt(op.Axes, i) {
			out = append(out, d)
		}
	}
	for _, a := range op.Axes {
		if a < 0 || a >= ss[0].Dims() {
			return nil, fmt.Errorf("%v: no axis %d in %v", op, a, ss[0])
		}
	}
	return out, nil
}
func (op sumOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op sumOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op sumOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.Sum{%v,%d}", op.Axes, op.dims) }
func (op sumOp) Hashcode() uint32      { return hashOf(op) }
func (op sumOp) String() string        { return fmt.Sprintf("Sum%v", op.Axes) }
func (op sumOp) DiffWRT(int) []bool    { return []bool{true} }
func (op sumOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(sumGradOp{SumGrad: exec.SumGrad{Axes: op.Axes}, shape: in[0].Shape().Clone(), from: grad.Dims()}, grad)
	return G.Nodes{dx}, err
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// sumGradOp broadcasts a sum's gradient back to the summed tensor's shape.
type sumGradOp struct {
	pure
	exec.SumGrad
	shape tensor.Shape // the summed tensor's
	from  int          // the gradient's dimensions
}

func (op sumGradOp) spec() exec.Op { return op.SumGrad }
func (op sumGradOp) Arity() int    { return 1 }
func (op sumGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	var in hm.Type = a
	if op.from > 0 {
		in = G.TensorType{Dims: op.from, Of: a}
	}
	if op.shape.Dims() == 0 {
		return hm.NewFnType(in, a)
	}
	return hm.NewFnType(in, G.TensorType{Dims: op.shape.Dims(), Of: a})
}
func (op sumGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op sumGradOp) Do(vs ...G.Value) (G.Value, error)              { return doReference(op, nil, vs) }
func (op sumGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op sumGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.SumGrad{%v,%v,%d}", op.Axes, op.shape, op.from)
}
func (op sumGradOp) Hashcode() uint32 { return hashOf(op) }
func (op sumGradOp) String() string   { return fmt.Sprintf("SumGrad%v", op.Axes) }

// softmaxOp is the softmax of each row; its gradient reads the output.
type softmaxOp struct {
	pure
	grad bool // (y, dy) → dx
}

func (op softmaxOp) spec() exec.Op {
	if op.grad {
		return exec.SoftmaxGrad{}
	}
	return exec.Softmax{}
}
func (op softmaxOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op softmaxOp) Type() hm.Type                                     { return matrixType(op.Arity()) }
func (op softmaxOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op softmaxOp) Do(vs ...G.Value) (G.Value, error)                 { return doReference(op, nil, vs) }
func (op softmaxOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op softmaxOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.Softmax{%v}", op.grad) }
func (op softmaxOp) Hashcode() uint32      { return hashOf(op) }
func (op softmaxOp) String() string        { return op.spec().Kind() }
func (op softmaxOp) DiffWRT(int) []bool    { return []bool{!op.grad, false}[:op.Arity()] }
func (op softmaxOp) SymDiff(_ G.Nodes, y, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	dx, err := G.ApplyOp(softmaxOp{grad: true}, y, grad)
	return G.Nodes{dx}, err
}

// reshapeOp gives x another shape of the same size.
type reshapeOp struct {
	pure
	from, to tensor.Shape
}

func (op reshapeOp) spec() exec.Op { return exec.Reshape{} }
func (op reshapeOp) Arity() int    { return 1 }
func (op reshapeOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.from.Dims(), Of: a}, G.TensorType{Dims: op.to.Dims(), Of: a})
}
func (op reshapeOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if ss[0].TotalSize() != op.to.TotalSize() {
		return nil, fmt.Errorf("%v: cannot reshape %v", op, ss[0])
	}
	return op.to.Clone(), nil
}

// Do copies on the TapeMachine, which may reuse an input's memory in place.
func (op reshapeOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op reshapeOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	x, err := denseOrScalar(vs[0])
	if err != nil {
		return nil, err
	}
	y := output(prealloc, x.Dtype(), op.to)
	if x.Dtype() == tensor.Float64 {
		copy(y.Float64s(), x.Float64s())
	} else {
		copy(y.Float32s(), x.Float32s())
	}
	return y, nil
}
func (op reshapeOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.Reshape{%v,%v}", op.from, op.to) }
func (op reshapeOp) Hashcode() uint32      { return hashOf(op) }
func (op reshapeOp) String() string        { return fmt.Sprintf("Reshape%v", op.to) }
func (op reshapeOp) DiffWRT(int) []bool    { return []bool{true} }
func (op reshapeOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(reshapeOp{from: op.to, to: op.from}, grad)
	return G.Nodes{dx}, err
}
