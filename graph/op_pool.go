package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// MaxPool2d is torch.nn.functional.max_pool2d(x, kernel, stride) without padding or
// dilation on x of shape [N, C, H, W]: each output is the largest value of a kernel×kernel
// window, the windows stepping by stride, giving [N, C, (H−kernel)/stride+1,
// (W−kernel)/stride+1] (rounded down, as PyTorch does). The gradient goes to the position
// of each window's maximum, the first one in row-major order on ties (a NaN counts as the
// maximum), as in PyTorch's CPU kernel; overlapping windows add up.
//
// The backward pass finds the maxima again from x rather than keeping them from the
// forward pass, so it depends on nothing but its inputs.
func MaxPool2d(x *G.Node, kernel, stride int) *G.Node {
	return must(G.ApplyOp(maxPoolOp{kernel: kernel, stride: stride}, x))
}

type maxPoolOp struct {
	pure
	kernel, stride int
}

func (op maxPoolOp) spec() exec.Op { return exec.MaxPool2d{K: op.kernel, Stride: op.stride} }

func (op maxPoolOp) Arity() int { return 1 }
func (op maxPoolOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 4, Of: a}
	return hm.NewFnType(t, t)
}

// outShape checks x's shape and returns the pooled one.
func (op maxPoolOp) outShape(x tensor.Shape) (tensor.Shape, error) {
	switch {
	case op.kernel < 1 || op.stride < 1:
		return nil, fmt.Errorf("%v: kernel and stride must be positive", op)
	case x.Dims() != 4:
		return nil, fmt.Errorf("%v: input must be [N, C, H, W], got %v", op, x)
	case x[2] < op.kernel || x[3] < op.kernel:
		return nil, fmt.Errorf("%v: input %v is smaller than the %d×%d window", op, x, op.kernel, op.kernel)
	}
	return tensor.Shape{x[0], x[1], (x[2]-op.kernel)/op.stride + 1, (x[3]-op.kernel)/op.stride + 1}, nil
}

func (op maxPoolOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	return op.outShape(ss[0])
}
func (op maxPoolOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op maxPoolOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op maxPoolOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.MaxPool2d{%d,%d}", op.kernel, op.stride)
}
func (op maxPoolOp) Hashcode() uint32   { return hashOf(op) }
func (op maxPoolOp) String() string     { return fmt.Sprintf("MaxPool2d{k=%d,s=%d}", op.kernel, op.stride) }
func (op maxPoolOp) DiffWRT(int) []bool { return []bool{true} }
func (op maxPoolOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(maxPoolGradOp{fwd: op}, in[0], grad)
	return G.Nodes{dx}, err
}

// maxPoolGradOp computes dx from (x, dy): each window's gradient added at its maximum.
type maxPoolGradOp struct {
	pure
	fwd maxPoolOp
}

func (op maxPoolGradOp) spec() exec.Op {
	return exec.MaxPool2dGrad{K: op.fwd.kernel, Stride: op.fwd.stride}
}

func (op maxPoolGradOp) Arity() int { return 2 }
func (op maxPoolGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 4, Of: a}
	return hm.NewFnType(t, t, t)
}
func (op maxPoolGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	os, err := op.fwd.outShape(ss[0])
	if err != nil {
		return nil, err
	}
	if !ss[1].Eq(os) {
		return nil, fmt.Errorf("%v: gradient %v does not match the pooled shape %v", op, ss[1], os)
	}
	return ss[0].Clone(), nil
}
func (op maxPoolGradOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op maxPoolGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op maxPoolGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.MaxPool2dGrad{%d,%d}", op.fwd.kernel, op.fwd.stride)
}
func (op maxPoolGradOp) Hashcode() uint32 { return hashOf(op) }
func (op maxPoolGradOp) String() string {
	return fmt.Sprintf("MaxPool2dGrad{k=%d,s=%d}", op.fwd.kernel, op.fwd.stride)
}
