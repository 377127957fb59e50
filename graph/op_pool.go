package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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
func (op maxPoolOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op maxPoolOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	x := ts[0]
	os, err := op.outShape(x.Shape())
	if err != nil {
		return nil, err
	}
	y := output(prealloc, x.Dtype(), os)
	switch x.Dtype() {
	case tensor.Float32:
		maxPool(y.Float32s(), x.Float32s(), nil, x.Shape(), os, op.kernel, op.stride)
	case tensor.Float64:
		maxPool(y.Float64s(), x.Float64s(), nil, x.Shape(), os, op.kernel, op.stride)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
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

// maxPool pools each [h, w] plane of x into y. With dy (the backward pass), it instead
// adds dy of each window to dx (passed as y, zeroed here) at the window's maximum.
func maxPool[T float](y, x, dy []T, xs, ys tensor.Shape, k, s int) {
	h, w, oh, ow := xs[2], xs[3], ys[2], ys[3]
	planes := xs[0] * xs[1]
	parallelFor(planes, max(1, 4096/(oh*ow*k*k)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp := x[p*h*w : (p+1)*h*w]
			var yp, dxp, dyp []T
			if dy == nil {
				yp = y[p*oh*ow : (p+1)*oh*ow]
			} else {
				dxp, dyp = y[p*h*w:(p+1)*h*w], dy[p*oh*ow:(p+1)*oh*ow]
				clear(dxp)
			}
			for i := range oh {
				for j := range ow {
					best := i*s*w + j*s
					m := T(math.Inf(-1))
					for r := i * s; r < i*s+k; r++ {
						row := xp[r*w+j*s : r*w+j*s+k]
						for c, v := range row {
							if v > m || v != v {
								m, best = v, r*w+j*s+c
							}
						}
					}
					if dy == nil {
						yp[i*ow+j] = m
					} else {
						dxp[best] += dyp[i*ow+j]
					}
				}
			}
		}
	})
}

// maxPoolGradOp computes dx from (x, dy): each window's gradient added at its maximum.
type maxPoolGradOp struct {
	pure
	fwd maxPoolOp
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
func (op maxPoolGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op maxPoolGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	x, dy := ts[0], ts[1]
	os, err := op.fwd.outShape(x.Shape())
	if err != nil {
		return nil, err
	}
	if !dy.Shape().Eq(os) {
		return nil, fmt.Errorf("%v: gradient %v does not match the pooled shape %v", op, dy.Shape(), os)
	}
	dx := output(prealloc, x.Dtype(), x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		maxPool(dx.Float32s(), x.Float32s(), dy.Float32s(), x.Shape(), os, op.fwd.kernel, op.fwd.stride)
	case tensor.Float64:
		maxPool(dx.Float64s(), x.Float64s(), dy.Float64s(), x.Shape(), os, op.fwd.kernel, op.fwd.stride)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return dx, nil
}
func (op maxPoolGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.MaxPool2dGrad{%d,%d}", op.fwd.kernel, op.fwd.stride)
}
func (op maxPoolGradOp) Hashcode() uint32 { return hashOf(op) }
func (op maxPoolGradOp) String() string {
	return fmt.Sprintf("MaxPool2dGrad{k=%d,s=%d}", op.fwd.kernel, op.fwd.stride)
}
