package cpu

import (
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// Convolutions in NCHW layout with PyTorch's weight layouts, each one matrix product over
// the whole batch on an im2col patch matrix, and max pooling.

func init() {
	register("Conv2d", conv2dKernel[float32], conv2dKernel[float64])
	register("ConvTranspose2d", convTransposeKernel[float32], convTransposeKernel[float64])
	register("ConvWeightGrad", convWeightGradKernel[float32], convWeightGradKernel[float64])
	register("MaxPool2d", maxPoolKernel[float32](false), maxPoolKernel[float64](false))
	register("MaxPool2dGrad", maxPoolKernel[float32](true), maxPoolKernel[float64](true))
}

// ConvGeom describes one im2col: N images of C channels, H×W, under a K×K kernel moved in
// steps of Stride over the images padded with Pad zeros, at Ho×Wo positions. im2col
// writes a [C·K·K, N·Ho·Wo] matrix whose row (ch·K + i)·K + j holds, for every image and
// position, the pixel under kernel element (i, j) of channel ch, or 0 in the padding.
type ConvGeom struct {
	N, C, H, W     int
	K, Stride, Pad int
	Ho, Wo         int
}

// Rows and Cols are the patch matrix's size.
func (g ConvGeom) Rows() int { return g.C * g.K * g.K }
func (g ConvGeom) Cols() int { return g.N * g.Ho * g.Wo }

// ConvOut is the number of kernel positions along a side of size in.
func ConvOut(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

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

// Conv2dGeom is the im2col of x [N,C,H,W] under w [O,C,K,K].
func Conv2dGeom(x, w []int, stride, pad int) ConvGeom {
	g := ConvGeom{N: x[0], C: x[1], H: x[2], W: x[3], K: w[2], Stride: stride, Pad: pad}
	g.Ho, g.Wo = ConvOut(g.H, g.K, stride, pad), ConvOut(g.W, g.K, stride, pad)
	return g
}

// ConvTransposeGeom is the im2col of the output of a transposed convolution of x
// [N,Ci,H,W] by w [Ci,Co,K,K] (the convolution it is the adjoint of), outH×outW (0: the
// default size).
func ConvTransposeGeom(x, w []int, stride, pad, outH, outW int) ConvGeom {
	k := w[2]
	g := ConvGeom{N: x[0], C: w[1], H: outH, W: outW, K: k, Stride: stride, Pad: pad, Ho: x[2], Wo: x[3]}
	if g.H == 0 {
		g.H = (g.Ho-1)*stride - 2*pad + k
	}
	if g.W == 0 {
		g.W = (g.Wo-1)*stride - 2*pad + k
	}
	return g
}

// conv2dKernel: cols = im2col(x) [C·K·K, N·L]; t = w·cols [O, N·L]; y[n,o,:] = t[o, n·L:].
func conv2dKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Conv2d)
	y, x, w := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	g := Conv2dGeom(p.In[0].Shape, p.In[1].Shape, op.Stride, op.Pad)
	o := p.In[1].Shape[0]
	cs := p.Scratch(dtypeOf[T](), g.Rows()*g.Cols()+o*g.Cols())
	return lazily(func() func() {
		buf := scratch[T](cs)
		cols, t := buf[:g.Rows()*g.Cols()], buf[g.Rows()*g.Cols():]
		if g.N == 1 {
			t = y // [O, L] is y's layout already
		}
		patches := im2col(cols, x, g)
		permute := fromChannelMajor(y, t, g.N, o, g.Ho*g.Wo)
		return func() {
			patches()
			Gemm(false, false, o, g.Cols(), g.Rows(), 1, w, g.Rows(), cols, g.Cols(), 0, t, g.Cols())
			if g.N > 1 {
				permute()
			}
		}
	}), nil
}

// convTransposeKernel: xt = x as [Ci, N·L]; cols = wᵀ·xt [Co·K·K, N·L]; y = col2im(cols).
func convTransposeKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.ConvTranspose2d)
	y, x, w := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	g := ConvTransposeGeom(p.In[0].Shape, p.In[1].Shape, op.Stride, op.Pad, op.OutH, op.OutW)
	ci := p.In[0].Shape[1]
	cs := p.Scratch(dtypeOf[T](), g.Rows()*g.Cols()+ci*g.Cols())
	return lazily(func() func() {
		buf := scratch[T](cs)
		cols, xt := buf[:g.Rows()*g.Cols()], buf[g.Rows()*g.Cols():]
		if g.N == 1 {
			xt = x
		}
		permute := toChannelMajor(xt, x, g.N, ci, g.Ho*g.Wo)
		scatter := col2im(y, cols, g)
		return func() {
			if g.N > 1 {
				permute()
			}
			Gemm(true, false, g.Rows(), g.Cols(), ci, 1, w, g.Rows(), xt, g.Cols(), 0, cols, g.Cols())
			scatter()
		}
	}), nil
}

// convWeightGradKernel: cols = im2col(a) [Ca·k·k, N·L]; bt = b as [Cb, N·L];
// dw = bt·colsᵀ.
func convWeightGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.ConvWeightGrad)
	dw, a, b := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	g := Conv2dGeom(p.In[0].Shape, []int{0, 0, op.K, op.K}, op.Stride, op.Pad)
	cb := p.In[1].Shape[1]
	cs := p.Scratch(dtypeOf[T](), g.Rows()*g.Cols()+cb*g.Cols())
	return lazily(func() func() {
		buf := scratch[T](cs)
		cols, bt := buf[:g.Rows()*g.Cols()], buf[g.Rows()*g.Cols():]
		if g.N == 1 {
			bt = b
		}
		permute := toChannelMajor(bt, b, g.N, cb, g.Ho*g.Wo)
		patches := im2col(cols, a, g)
		return func() {
			if g.N > 1 {
				permute()
			}
			patches()
			Gemm(false, true, cb, g.Rows(), g.Cols(), 1, bt, g.Cols(), cols, g.Cols(), 0, dw, g.Rows())
		}
	}), nil
}

// lazily returns a launch that builds its work on the first run, once scratch memory is
// in place, and reuses it after.
func lazily(build func() func()) exec.Launch {
	var run func()
	return func() error {
		if run == nil {
			run = build()
		}
		run()
		return nil
	}
}

// convPerThread is the fewest items of the given size worth a thread.
func convPerThread(size int) int { return max(1, (1<<14)/max(size, 1)) }

// im2col returns the work that writes the [c·k·k, n·ho·wo] patch matrix of x. Each
// (image, channel) pair fills its own k·k row segments, so they run in parallel.
func im2col[T float](cols, x []T, g ConvGeom) func() {
	l, hw, ld := g.Ho*g.Wo, g.H*g.W, g.Cols()
	return forAll(g.N*g.C, convPerThread(g.K*g.K*l), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			n, c := nc/g.C, nc%g.C
			img := x[nc*hw : (nc+1)*hw]
			for i := range g.K {
				hLo, hHi := convSpan(i, g.H, g.Ho, g.Stride, g.Pad)
				for j := range g.K {
					wLo, wHi := convSpan(j, g.W, g.Wo, g.Stride, g.Pad)
					row := cols[((c*g.K+i)*g.K+j)*ld+n*l:][:l]
					if hLo > 0 || hHi < g.Ho || wLo > 0 || wHi < g.Wo {
						clear(row) // the kernel element reads padding at some positions
					}
					q0 := wLo*g.Stride - g.Pad + j
					for p := hLo; p < hHi; p++ {
						src := img[(p*g.Stride-g.Pad+i)*g.W:][:g.W]
						dst := row[p*g.Wo+wLo : p*g.Wo+wHi]
						if g.Stride == 1 {
							copy(dst, src[q0:])
							continue
						}
						for o := range dst {
							dst[o] = src[q0+o*g.Stride]
						}
					}
				}
			}
		}
	})
}

// col2im returns im2col's adjoint: the work that sets x to the sum, over the patch
// matrix's entries, of each into the pixel it was read from. Each (image, channel) pair
// sums into its own pixels, in a fixed order, so results do not depend on the thread
// count.
func col2im[T float](x, cols []T, g ConvGeom) func() {
	l, hw, ld := g.Ho*g.Wo, g.H*g.W, g.Cols()
	return forAll(g.N*g.C, convPerThread(g.K*g.K*l), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			n, c := nc/g.C, nc%g.C
			img := x[nc*hw : (nc+1)*hw]
			clear(img)
			for i := range g.K {
				hLo, hHi := convSpan(i, g.H, g.Ho, g.Stride, g.Pad)
				for j := range g.K {
					wLo, wHi := convSpan(j, g.W, g.Wo, g.Stride, g.Pad)
					row := cols[((c*g.K+i)*g.K+j)*ld+n*l:][:l]
					q0 := wLo*g.Stride - g.Pad + j
					for p := hLo; p < hHi; p++ {
						src := row[p*g.Wo+wLo : p*g.Wo+wHi]
						dst := img[(p*g.Stride-g.Pad+i)*g.W:][:g.W]
						if g.Stride == 1 {
							dst = dst[q0:][:len(src)]
							for o, v := range src {
								dst[o] += v
							}
							continue
						}
						for o, v := range src {
							dst[q0+o*g.Stride] += v
						}
					}
				}
			}
		}
	})
}

// toChannelMajor returns the copy of x [n, c, l] into t [c, n·l].
func toChannelMajor[T float](t, x []T, n, c, l int) func() {
	return forAll(n*c, convPerThread(l), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			copy(t[((nc%c)*n+nc/c)*l:][:l], x[nc*l:][:l])
		}
	})
}

// fromChannelMajor returns the copy of t [c, n·l] into x [n, c, l].
func fromChannelMajor[T float](x, t []T, n, c, l int) func() {
	return forAll(n*c, convPerThread(l), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			copy(x[nc*l:][:l], t[((nc%c)*n+nc/c)*l:][:l])
		}
	})
}

// maxPoolKernel pools each [h, w] plane of x; with grad, from (x, dy) it instead adds dy
// of each window to dx at the window's maximum (the first on ties, a NaN counting as the
// maximum, as PyTorch's CPU kernel).
func maxPoolKernel[T float](grad bool) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		var k, s int
		if grad {
			op := p.Op.(exec.MaxPool2dGrad)
			k, s = op.K, op.Stride
		} else {
			op := p.Op.(exec.MaxPool2d)
			k, s = op.K, op.Stride
		}
		x, y := data[T](p.In[0]), data[T](p.Out)
		var dy []T
		xs := p.In[0].Shape
		h, w := xs[2], xs[3]
		oh, ow := (h-k)/s+1, (w-k)/s+1
		if grad {
			dy = data[T](p.In[1])
		}
		planes := xs[0] * xs[1]
		return launch(planes, max(1, 4096/(oh*ow*k*k)), func(lo, hi int) {
			for q := lo; q < hi; q++ {
				xp := x[q*h*w : (q+1)*h*w]
				var yp, dxp, dyp []T
				if dy == nil {
					yp = y[q*oh*ow : (q+1)*oh*ow]
				} else {
					dxp, dyp = y[q*h*w:(q+1)*h*w], dy[q*oh*ow:(q+1)*oh*ow]
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
		}), nil
	}
}
