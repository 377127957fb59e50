package graph

import (
	"fmt"
	"hash"
	"sync"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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

// convSpan returns the positions o in [0, out) whose kernel element at offset kk lands
// inside the image: 0 ≤ o·stride − pad + kk < size. They are contiguous; the rest read
// padding.
func convSpan(kk, size, out, stride, pad int) (lo, hi int) {
	if d := pad - kk; d > 0 {
		lo = min((d+stride-1)/stride, out)
	}
	last := size - 1 + pad - kk
	if last < 0 {
		return lo, lo
	}
	hi = max(min(last/stride+1, out), lo)
	return lo, hi
}

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
func (op conv2dOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op conv2dOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	x, w := ts[0], ts[1]
	g, o, err := op.geom([]tensor.Shape{x.Shape(), w.Shape()})
	if err != nil {
		return nil, err
	}
	y := output(prealloc, x.Dtype(), tensor.Shape{g.n, o, g.ho, g.wo})
	switch x.Dtype() {
	case tensor.Float32:
		conv2d(y.Data().([]float32), x.Data().([]float32), w.Data().([]float32), g, o)
	case tensor.Float64:
		conv2d(y.Data().([]float64), x.Data().([]float64), w.Data().([]float64), g, o)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
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
func (op convTransposeOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op convTransposeOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	x, w := ts[0], ts[1]
	g, ci, err := op.geom([]tensor.Shape{x.Shape(), w.Shape()})
	if err != nil {
		return nil, err
	}
	y := output(prealloc, x.Dtype(), tensor.Shape{g.n, g.c, g.h, g.w})
	switch x.Dtype() {
	case tensor.Float32:
		convTranspose(y.Data().([]float32), x.Data().([]float32), w.Data().([]float32), g, ci)
	case tensor.Float64:
		convTranspose(y.Data().([]float64), x.Data().([]float64), w.Data().([]float64), g, ci)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
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
func (op convWeightGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op convWeightGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	a, b := ts[0], ts[1]
	g, cb, err := op.geom([]tensor.Shape{a.Shape(), b.Shape()})
	if err != nil {
		return nil, err
	}
	dw := output(prealloc, a.Dtype(), tensor.Shape{cb, g.c, g.k, g.k})
	switch a.Dtype() {
	case tensor.Float32:
		convWeightGrad(dw.Data().([]float32), a.Data().([]float32), b.Data().([]float32), g, cb)
	case tensor.Float64:
		convWeightGrad(dw.Data().([]float64), a.Data().([]float64), b.Data().([]float64), g, cb)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, a.Dtype())
	}
	return dw, nil
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

// conv2d: cols = im2col(x) [C·K·K, N·L]; t = w·cols [O, N·L]; y[n,o,:] = t[o, n·L:(n+1)·L].
func conv2d[T float](y, x, w []T, g convGeom, o int) {
	cols, t, done := convScratch[T](g, o)
	defer done()
	if g.n == 1 {
		t = y // [O, L] is y's layout already
	}
	im2col(cols, x, g)
	blasGemm(blas.NoTrans, blas.NoTrans, o, g.cols(), g.rows(), w, g.rows(), cols, g.cols(), t, g.cols())
	if g.n > 1 {
		fromChannelMajor(y, t, g.n, o, g.ho*g.wo)
	}
}

// convTranspose: xt = x as [Ci, N·L]; cols = wᵀ·xt [Co·K·K, N·L]; y = col2im(cols).
func convTranspose[T float](y, x, w []T, g convGeom, ci int) {
	cols, xt, done := convScratch[T](g, ci)
	defer done()
	if g.n == 1 {
		xt = x
	} else {
		toChannelMajor(xt, x, g.n, ci, g.ho*g.wo)
	}
	blasGemm(blas.Trans, blas.NoTrans, g.rows(), g.cols(), ci, w, g.rows(), xt, g.cols(), cols, g.cols())
	col2im(y, cols, g)
}

// convWeightGrad: cols = im2col(a) [Ca·k·k, N·L]; bt = b as [Cb, N·L]; dw = bt·colsᵀ.
func convWeightGrad[T float](dw, a, b []T, g convGeom, cb int) {
	cols, bt, done := convScratch[T](g, cb)
	defer done()
	if g.n == 1 {
		bt = b
	} else {
		toChannelMajor(bt, b, g.n, cb, g.ho*g.wo)
	}
	im2col(cols, a, g)
	blasGemm(blas.NoTrans, blas.Trans, cb, g.rows(), g.cols(), bt, g.cols(), cols, g.cols(), dw, g.rows())
}

// convScratch returns scratch memory for a patch matrix of geometry g and, for a batch
// of more than one image, a [c, N·L] matrix (a batch permuted channel-major), and the
// function that returns them to the pool.
func convScratch[T float](g convGeom, c int) (cols, perm []T, done func()) {
	n := g.rows() * g.cols()
	size := n
	if g.n > 1 {
		size += c * g.cols()
	}
	buf := getScratch[T](size)
	return buf[:n], buf[n:], func() { putScratch(buf) }
}

// blasGemm computes c = op(a)·op(b) for m×n c, on the BLAS in use.
func blasGemm[T float](tA, tB blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	impl := tensor.WhichBLAS()
	switch a := any(a).(type) {
	case []float32:
		impl.Sgemm(tA, tB, m, n, k, 1, a, lda, any(b).([]float32), ldb, 0, any(c).([]float32), ldc)
	case []float64:
		impl.Dgemm(tA, tB, m, n, k, 1, a, lda, any(b).([]float64), ldb, 0, any(c).([]float64), ldc)
	default:
		panic(fmt.Sprintf("graph: gemm on %T", a))
	}
}

// convPerThread is the fewest items of the given size worth a goroutine of their own.
func convPerThread(size int) int { return max(1, (1<<14)/max(size, 1)) }

// im2col writes the [c·k·k, n·ho·wo] patch matrix of x (see convGeom). Each (image,
// channel) pair fills its own k·k row segments, so they run in parallel.
func im2col[T float](cols, x []T, g convGeom) {
	l, hw, ld := g.ho*g.wo, g.h*g.w, g.cols()
	parallelFor(g.n*g.c, convPerThread(g.k*g.k*l), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			n, c := nc/g.c, nc%g.c
			img := x[nc*hw : (nc+1)*hw]
			for i := range g.k {
				hLo, hHi := convSpan(i, g.h, g.ho, g.stride, g.pad)
				for j := range g.k {
					wLo, wHi := convSpan(j, g.w, g.wo, g.stride, g.pad)
					row := cols[((c*g.k+i)*g.k+j)*ld+n*l:][:l]
					if hLo > 0 || hHi < g.ho || wLo > 0 || wHi < g.wo {
						clear(row) // the kernel element reads padding at some positions
					}
					q0 := wLo*g.stride - g.pad + j
					for p := hLo; p < hHi; p++ {
						src := img[(p*g.stride-g.pad+i)*g.w:][:g.w]
						dst := row[p*g.wo+wLo : p*g.wo+wHi]
						if g.stride == 1 {
							copy(dst, src[q0:])
							continue
						}
						for o := range dst {
							dst[o] = src[q0+o*g.stride]
						}
					}
				}
			}
		}
	})
}

// col2im is im2col's adjoint: it sets x to the sum, over the patch matrix's entries, of
// each into the pixel it was read from. Each (image, channel) pair sums into its own
// pixels, in a fixed order, so results do not depend on the thread count.
func col2im[T float](x, cols []T, g convGeom) {
	l, hw, ld := g.ho*g.wo, g.h*g.w, g.cols()
	parallelFor(g.n*g.c, convPerThread(g.k*g.k*l), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			n, c := nc/g.c, nc%g.c
			img := x[nc*hw : (nc+1)*hw]
			clear(img)
			for i := range g.k {
				hLo, hHi := convSpan(i, g.h, g.ho, g.stride, g.pad)
				for j := range g.k {
					wLo, wHi := convSpan(j, g.w, g.wo, g.stride, g.pad)
					row := cols[((c*g.k+i)*g.k+j)*ld+n*l:][:l]
					q0 := wLo*g.stride - g.pad + j
					for p := hLo; p < hHi; p++ {
						src := row[p*g.wo+wLo : p*g.wo+wHi]
						dst := img[(p*g.stride-g.pad+i)*g.w:][:g.w]
						if g.stride == 1 {
							dst = dst[q0:][:len(src)]
							for o, v := range src {
								dst[o] += v
							}
							continue
						}
						for o, v := range src {
							dst[q0+o*g.stride] += v
						}
					}
				}
			}
		}
	})
}

// toChannelMajor copies x [n, c, l] into t [c, n·l].
func toChannelMajor[T float](t, x []T, n, c, l int) {
	parallelFor(n*c, convPerThread(l), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			copy(t[((nc%c)*n+nc/c)*l:][:l], x[nc*l:][:l])
		}
	})
}

// fromChannelMajor copies t [c, n·l] into x [n, c, l].
func fromChannelMajor[T float](x, t []T, n, c, l int) {
	parallelFor(n*c, convPerThread(l), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			copy(x[nc*l:][:l], t[((nc%c)*n+nc/c)*l:][:l])
		}
	})
}

// The patch matrices are scratch memory, needed only during an Op's Do: they are pooled
// (one buffer per Do, reused once large enough) instead of allocated each step. A pool is
// safe for machines running concurrently.
var scratch32, scratch64 sync.Pool

func scratchPool[T float]() *sync.Pool {
	if _, ok := any(T(0)).(float32); ok {
		return &scratch32
	}
	return &scratch64
}

// getScratch returns n elements of uninitialised scratch memory.
func getScratch[T float](n int) []T {
	if b, ok := scratchPool[T]().Get().(*[]T); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]T, n)
}

func putScratch[T float](b []T) {
	b = b[:cap(b)]
	scratchPool[T]().Put(&b)
}
