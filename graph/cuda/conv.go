package cuda

import (
	"github.com/aigc-go/aigc/graph/exec"
)

// Convolutions as products of patch matrices: im2col or col2im (kernels/conv.cu) and one
// cuBLAS product, with channel-major permutations between NCHW images and the products'
// [C, N·L] layout; and max pooling.

func init() {
	register("Conv2d", conv2d)
	register("ConvTranspose2d", convTranspose)
	register("ConvWeightGrad", convWeightGrad)
	register("MaxPool2d", maxPool(false))
	register("MaxPool2dGrad", maxPool(true))
}

// geom is a convolution's input images [N, C, H, W], kernel K and outputs Ho × Wo.
type geom struct{ n, c, h, w, k, stride, pad, ho, wo int }

func (g geom) rows() int { return g.c * g.k * g.k }
func (g geom) cols() int { return g.n * g.ho * g.wo }

func convOut(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

func conv2dGeom(x, w []int, stride, pad int) geom {
	g := geom{n: x[0], c: x[1], h: x[2], w: x[3], k: w[2], stride: stride, pad: pad}
	g.ho, g.wo = convOut(g.h, g.k, stride, pad), convOut(g.w, g.k, stride, pad)
	return g
}

func (g geom) args(cols, img uint64) []uint64 {
	return []uint64{cols, img, i64(g.n), i64(g.c), i64(g.h), i64(g.w), i64(g.k), i64(g.stride), i64(g.pad), i64(g.ho), i64(g.wo)}
}

// launches runs prepared steps, some of which need the scratch buffer (known at launch).
func launches(steps ...func() error) exec.Launch {
	return func() error {
		for _, s := range steps {
			if err := s(); err != nil {
				return err
			}
		}
		return nil
	}
}

// kernelAt launches name with arguments computed at launch time.
func (d *Device) kernelAt(name string, n int, args func() []uint64) (func() error, error) {
	c, err := d.elems(name, n)
	if err != nil {
		return nil, err
	}
	return func() error { return d.drv.Launch(c.fn, c.grid, c.block, 0, args()) }, nil
}

func conv2d(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Conv2d)
	g := conv2dGeom(p.In[0].Shape, p.In[1].Shape, op.Stride, op.Pad)
	o, l := p.In[1].Shape[0], g.ho*g.wo
	s := p.Scratch(exec.Float32, g.rows()*g.cols()+o*g.cols())
	patches, err := d.kernelAt("im2col", g.rows()*g.cols(), func() []uint64 { return g.args(pm(s.Buf()), ptr(p.In[0])) })
	if err != nil {
		return nil, err
	}
	// t [O, N·L] = W [O, C·K·K] · cols, then y [N, O, L] from t.
	prod := func() error {
		return d.gemm(gemm{m: o, n: g.cols(), k: g.rows(), alpha: 1, a: at(p.In[1].Buf, 0), lda: g.rows(),
			b: at(s.Buf(), 0), ldb: g.cols(), c: at(s.Buf(), g.rows()*g.cols()), ldc: g.cols()})()
	}
	permute, err := d.kernelAt("channel_major", g.n*o*l, func() []uint64 {
		return []uint64{ptr(p.Out), uint64(at(s.Buf(), g.rows()*g.cols())), i64(g.n), i64(o), i64(l), 0}
	})
	if err != nil {
		return nil, err
	}
	return launches(patches, prod, permute), nil
}

func convTranspose(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.ConvTranspose2d)
	x, w := p.In[0].Shape, p.In[1].Shape
	g := geom{n: x[0], c: w[1], h: op.OutH, w: op.OutW, k: w[2], stride: op.Stride, pad: op.Pad, ho: x[2], wo: x[3]}
	if g.h == 0 {
		g.h = (g.ho-1)*g.stride - 2*g.pad + g.k
	}
	if g.w == 0 {
		g.w = (g.wo-1)*g.stride - 2*g.pad + g.k
	}
	ci, l := x[1], g.ho*g.wo
	s := p.Scratch(exec.Float32, g.rows()*g.cols()+ci*g.cols())
	xt := func() uint64 { return uint64(at(s.Buf(), g.rows()*g.cols())) }
	permute, err := d.kernelAt("channel_major", g.n*ci*l, func() []uint64 {
		return []uint64{xt(), ptr(p.In[0]), i64(g.n), i64(ci), i64(l), 1}
	})
	if err != nil {
		return nil, err
	}
	// cols [Co·K·K, N·L] = Wᵀ · xt, then y = col2im(cols).
	prod := func() error {
		return d.gemm(gemm{transA: true, m: g.rows(), n: g.cols(), k: ci, alpha: 1, a: at(p.In[1].Buf, 0), lda: g.rows(),
			b: at(s.Buf(), g.rows()*g.cols()), ldb: g.cols(), c: at(s.Buf(), 0), ldc: g.cols()})()
	}
	scatter, err := d.kernelAt("col2im", p.Out.Size(), func() []uint64 { return g.args(ptr(p.Out), pm(s.Buf())) })
	if err != nil {
		return nil, err
	}
	return launches(permute, prod, scatter), nil
}

func convWeightGrad(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.ConvWeightGrad)
	g := conv2dGeom(p.In[0].Shape, []int{0, 0, op.K, op.K}, op.Stride, op.Pad)
	cb, l := p.In[1].Shape[1], g.ho*g.wo
	s := p.Scratch(exec.Float32, g.rows()*g.cols()+cb*g.cols())
	bt := func() uint64 { return uint64(at(s.Buf(), g.rows()*g.cols())) }
	permute, err := d.kernelAt("channel_major", g.n*cb*l, func() []uint64 {
		return []uint64{bt(), ptr(p.In[1]), i64(g.n), i64(cb), i64(l), 1}
	})
	if err != nil {
		return nil, err
	}
	patches, err := d.kernelAt("im2col", g.rows()*g.cols(), func() []uint64 { return g.args(pm(s.Buf()), ptr(p.In[0])) })
	if err != nil {
		return nil, err
	}
	// dW [Cb, Ca·K·K] = bt · colsᵀ
	prod := func() error {
		return d.gemm(gemm{transB: true, m: cb, n: g.rows(), k: g.cols(), alpha: 1, a: at(s.Buf(), g.rows()*g.cols()), lda: g.cols(),
			b: at(s.Buf(), 0), ldb: g.cols(), c: at(p.Out.Buf, 0), ldc: g.rows()})()
	}
	return launches(permute, patches, prod), nil
}

func maxPool(grad bool) kernel {
	return func(d *Device, p *exec.Prep) (exec.Launch, error) {
		var k, s int
		var dy uint64
		if grad {
			op := p.Op.(exec.MaxPool2dGrad)
			k, s, dy = op.K, op.Stride, ptr(p.In[1])
		} else {
			op := p.Op.(exec.MaxPool2d)
			k, s = op.K, op.Stride
		}
		xs := p.In[0].Shape
		h, w := xs[2], xs[3]
		oh, ow := (h-k)/s+1, (w-k)/s+1
		planes := xs[0] * xs[1]
		pool, err := d.elems("maxpool", planes*oh*ow, ptr(p.Out), ptr(p.In[0]), dy, i64(planes), i64(h), i64(w), i64(k), i64(s), i64(oh), i64(ow))
		if err != nil {
			return nil, err
		}
		if !grad {
			return pool.run, nil
		}
		zero, err := d.elems("fill", p.Out.Size(), ptr(p.Out), f32(0), i64(p.Out.Size()))
		if err != nil {
			return nil, err
		}
		return seq(zero, pool), nil
	}
}
