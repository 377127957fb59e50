package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// Convolutions in NCHW layout with PyTorch's weight layouts, as three Ops:
//
//	conv2dOp(x, w)          y = W·im2col(x)          x [N,C,H,W], w [O,C,K,K]
//	convTransposeOp(x, w)   y = col2im(Wᵀ·x)         x [N,Ci,H,W], w [Ci,Co,K,K]
//	convWeightGradOp(a, b)  dW = b·im2col(a)ᵀ        the weight gradient of either
//
// Each runs one matrix product over the whole batch: im2col lays the K×K patches of every
// image side by side as the columns of one [C·K·K, N·Ho·Wo] matrix, so the product's inner
// dimension (or its columns) spans the batch. The two forward Ops are adjoints of each
// other, which is what their gradients are made of:
//
//	Conv2d:           dx = ConvTranspose2d(dy, w)    dw = convWeightGrad(x, dy)
//	ConvTranspose2d:  dx = Conv2d(dy, w)             dw = convWeightGrad(dy, x)

// Conv2d is torch.nn.functional.conv2d without bias: x [N,C,H,W] correlated with w
// [O,C,K,K] (square kernels) over x padded with pad zeros on every side, moving stride
// pixels at a time, gives [N,O,Ho,Wo] with Ho = (H + 2·pad − K)/stride + 1. Add a bias with
// AddBias(y, b, 1).
func Conv2d(x, w *G.Node, stride, pad int) *G.Node {
	return must(G.ApplyOp(conv2dOp{stride: stride, pad: pad}, x, w))
}

// ConvTranspose2d is torch.nn.functional.conv_transpose2d without bias or output padding:
// x [N,Ci,H,W] and w [Ci,Co,K,K] (PyTorch's layout) give [N,Co,Ho,Wo] with
// Ho = (H − 1)·stride − 2·pad + K. It is the adjoint of Conv2d with the same weight, stride
// and padding: each input pixel scatters its K×K patch into the output.
func ConvTranspose2d(x, w *G.Node, stride, pad int) *G.Node {
	return must(G.ApplyOp(convTransposeOp{stride: stride, pad: pad}, x, w))
}

// convGeom describes one im2col: n images of c channels, h×w, under a k×k kernel moved in
// steps of stride over the images padded with pad zeros, at ho×wo positions. im2col
// writes a [c·k·k, n·ho·wo] matrix whose row (ch·k + i)·k + j holds, for every image and
// position, the pixel under kernel element (i, j) of channel ch, or 0 in the padding.
type convGeom struct {
	n, c, h, w     int
	k, stride, pad int
	ho, wo         int
}

func (g convGeom) rows() int { return g.c * g.k * g.k }
func (g convGeom) cols() int { return g.n * g.ho * g.wo }

// convOut is the number of kernel positions along a side of size in.
func convOut(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

// checkConv validates the hyperparameters and the image/kernel sizes of a convolution.
func checkConv(name string, stride, pad, h, w, k int) error {
	switch {
	case stride < 1 || pad < 0:
		return fmt.Errorf("%s: stride %d and padding %d: want stride ≥ 1, padding ≥ 0", name, stride, pad)
	case k < 1:
		return fmt.Errorf("%s: kernel size %d", name, k)
	case h+2*pad < k || w+2*pad < k:
		return fmt.Errorf("%s: %d×%d kernel larger than the %d×%d image padded by %d", name, k, k, h, w, pad)
	}
	return nil
}

// conv2dOp computes Conv2d.
type conv2dOp struct {
	pure
	stride, pad int
}

func (op conv2dOp) spec() exec.Op { return exec.Conv2d{Stride: op.stride, Pad: op.pad} }

// geom checks x [N,C,H,W] and w [O,C,K,K] and returns the im2col of x and O.
func (op conv2dOp) geom(ss []tensor.Shape) (convGeom, int, error) {
	if len(ss) != 2 || ss[0].Dims() != 4 || ss[1].Dims() != 4 {
		return convGeom{}, 0, fmt.Errorf("%v: want x [N,C,H,W] and w [O,C,K,K], got %v", op, ss)
	}
	x, w := ss[0], ss[1]
	if w[1] != x[1] || w[2] != w[3] {
		return convGeom{}, 0, fmt.Errorf("%v: weight %v does not fit input %v (want [O,%d,K,K])", op, w, x, x[1])
	}
	if err := checkConv(op.String(), op.stride, op.pad, x[2], x[3], w[2]); err != nil {
		return convGeom{}, 0, err
	}
	g := convGeom{n: x[0], c: x[1], h: x[2], w: x[3], k: w[2], stride: op.stride, pad: op.pad}
	g.ho, g.wo = convOut(g.h, g.k, g.stride, g.pad), convOut(g.w, g.k, g.stride, g.pad)
	return g, w[0], nil
}

func (op conv2dOp) Arity() int { return 2 }
func (op conv2dOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op conv2dOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	g, o, err := op.geom(ss)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.n, o, g.ho, g.wo}, nil
}
func (op conv2dOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op conv2dOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op conv2dOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.Conv2d{%d,%d}", op.stride, op.pad) }
func (op conv2dOp) Hashcode() uint32      { return hashOf(op) }
func (op conv2dOp) String() string {
	return fmt.Sprintf("Conv2d{stride=%d, pad=%d}", op.stride, op.pad)
}
func (op conv2dOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: the input gradient is the transposed convolution of dy by the same weight, at
// the input's size (which (Ho−1)·stride − 2·pad + K falls short of when the kernel does
// not tile the padded input exactly); the weight gradient correlates x with dy.
func (op conv2dOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	x, w := in[0], in[1]
	s := x.Shape()
	dx, err := G.ApplyOp(convTransposeOp{stride: op.stride, pad: op.pad, outH: s[2], outW: s[3]}, grad, w)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(convWeightGradOp{stride: op.stride, pad: op.pad, k: w.Shape()[2]}, x, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// flops counts 2·N·O·Ho·Wo·C·K·K: a multiply and an add per kernel term.
func (op conv2dOp) flops(in []tensor.Shape) int64 {
	g, o, err := op.geom(in)
	if err != nil {
		return 0
	}
	return 2 * int64(o) * int64(g.rows()) * int64(g.cols())
}

// convTransposeOp computes ConvTranspose2d. outH and outW, when set, choose the output
// size among those whose convolution gives back the input's size (PyTorch's
// output_padding, up to stride − 1 more than the default); 0 means the default.
type convTransposeOp struct {
	pure
	stride, pad int
	outH, outW  int
}

func (op convTransposeOp) spec() exec.Op {
	return exec.ConvTranspose2d{Stride: op.stride, Pad: op.pad, OutH: op.outH, OutW: op.outW}
}

// geom checks x [N,Ci,H,W] and w [Ci,Co,K,K] and returns the im2col of the output (the
// convolution whose adjoint this is) and Ci.
func (op convTransposeOp) geom(ss []tensor.Shape) (convGeom, int, error) {
	if len(ss) != 2 || ss[0].Dims() != 4 || ss[1].Dims() != 4 {
		return convGeom{}, 0, fmt.Errorf("%v: want x [N,Ci,H,W] and w [Ci,Co,K,K], got %v", op, ss)
	}
	x, w := ss[0], ss[1]
	if w[0] != x[1] || w[2] != w[3] {
		return convGeom{}, 0, fmt.Errorf("%v: weight %v does not fit input %v (want [%d,Co,K,K])", op, w, x, x[1])
	}
	k := w[2]
	if op.stride < 1 || op.pad < 0 || k < 1 {
		return convGeom{}, 0, fmt.Errorf("%v: want stride ≥ 1, padding ≥ 0 and a kernel, got weight %v", op, w)
	}
	g := convGeom{n: x[0], c: w[1], h: op.outH, w: op.outW, k: k, stride: op.stride, pad: op.pad, ho: x[2], wo: x[3]}
	if g.h == 0 {
		g.h = (g.ho-1)*g.stride - 2*g.pad + k
	}
	if g.w == 0 {
		g.w = (g.wo-1)*g.stride - 2*g.pad + k
	}
	if g.h < 1 || g.w < 1 || g.h+2*g.pad < k || g.w+2*g.pad < k ||
		convOut(g.h, k, g.stride, g.pad) != g.ho || convOut(g.w, k, g.stride, g.pad) != g.wo {
		return convGeom{}, 0, fmt.Errorf("%v: no %d×%d output of input %v with weight %v", op, g.h, g.w, x, w)
	}
	return g, x[1], nil
}

func (op convTransposeOp) Arity() int { return 2 }
func (op convTransposeOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op convTransposeOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	g, _, err := op.geom(ss)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.n, g.c, g.h, g.w}, nil
}
func (op convTransposeOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op convTransposeOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op convTransposeOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.ConvTranspose2d{%d,%d,%d,%d}", op.stride, op.pad, op.outH, op.outW)
}
func (op convTransposeOp) Hashcode() uint32 { return hashOf(op) }
func (op convTransposeOp) String() string {
	if op.outH != 0 || op.outW != 0 {
		return fmt.Sprintf("ConvTranspose2d{stride=%d, pad=%d, out=%d×%d}", op.stride, op.pad, op.outH, op.outW)
	}
	return fmt.Sprintf("ConvTranspose2d{stride=%d, pad=%d}", op.stride, op.pad)
}
func (op convTransposeOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: the input gradient is the convolution of dy by the same weight (which gives
// back the input's size, as geom checks); the weight gradient correlates dy with x.
func (op convTransposeOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	x, w := in[0], in[1]
	dx, err := G.ApplyOp(conv2dOp{stride: op.stride, pad: op.pad}, grad, w)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(convWeightGradOp{stride: op.stride, pad: op.pad, k: w.Shape()[2]}, grad, x)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// flops counts 2·N·Ci·H·W·Co·K·K, the same work as the convolution it is the adjoint of.
func (op convTransposeOp) flops(in []tensor.Shape) int64 {
	g, ci, err := op.geom(in)
	if err != nil {
		return 0
	}
	return 2 * int64(ci) * int64(g.rows()) * int64(g.cols())
}

// convWeightGradOp computes, from a [N,Ca,Ha,Wa] and b [N,Cb,Hb,Wb] where Hb×Wb are the
// positions of a k×k kernel over a, the [Cb,Ca,k,k] tensor
//
//	dW[cb,ca,i,j] = Σ_{n,p,q} b[n,cb,p,q] · a[n,ca,p·stride−pad+i, q·stride−pad+j],
//
// which is Conv2d's weight gradient for (a, b) = (x, dy) and ConvTranspose2d's for
// (a, b) = (dy, x).
type convWeightGradOp struct {
	pure
	stride, pad, k int
}

func (op convWeightGradOp) spec() exec.Op {
	return exec.ConvWeightGrad{Stride: op.stride, Pad: op.pad, K: op.k}
}

// geom checks a and b and returns the im2col of a and Cb.
func (op convWeightGradOp) geom(ss []tensor.Shape) (convGeom, int, error) {
	if len(ss) != 2 || ss[0].Dims() != 4 || ss[1].Dims() != 4 {
		return convGeom{}, 0, fmt.Errorf("%v: want two [N,C,H,W] tensors, got %v", op, ss)
	}
	a, b := ss[0], ss[1]
	if err := checkConv(op.String(), op.stride, op.pad, a[2], a[3], op.k); err != nil {
		return convGeom{}, 0, err
	}
	g := convGeom{n: a[0], c: a[1], h: a[2], w: a[3], k: op.k, stride: op.stride, pad: op.pad}
	g.ho, g.wo = convOut(g.h, g.k, g.stride, g.pad), convOut(g.w, g.k, g.stride, g.pad)
	if b[0] != g.n || b[2] != g.ho || b[3] != g.wo {
		return convGeom{}, 0, fmt.Errorf("%v: %v does not match the kernel positions over %v (want [%d,C,%d,%d])",
			op, b, a, g.n, g.ho, g.wo)
	}
	return g, b[1], nil
}

func (op convWeightGradOp) Arity() int { return 2 }
func (op convWeightGradOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op convWeightGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	g, cb, err := op.geom(ss)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{cb, g.c, g.k, g.k}, nil
}
func (op convWeightGradOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op convWeightGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op convWeightGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.ConvWeightGrad{%d,%d,%d}", op.stride, op.pad, op.k)
}
func (op convWeightGradOp) Hashcode() uint32 { return hashOf(op) }
func (op convWeightGradOp) String() string {
	return fmt.Sprintf("ConvWeightGrad{stride=%d, pad=%d, k=%d}", op.stride, op.pad, op.k)
}

// flops counts 2·Cb·Ca·k·k·N·Hb·Wb.
func (op convWeightGradOp) flops(in []tensor.Shape) int64 {
	g, cb, err := op.geom(in)
	if err != nil {
		return 0
	}
	return 2 * int64(cb) * int64(g.rows()) * int64(g.cols())
}
