package cuda

import (
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// Layer and batch normalisation (kernels/norm.cu).

func init() {
	register("LayerNormStats", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		dim := p.In[0].Shape[1]
		return one(d.grid("ln_stats", [3]int{p.In[0].Shape[0], 1, 1}, rowThreads(dim), ptr(p.Out), ptr(p.In[0]), i64(dim),
			f32(p.Op.(exec.LayerNormStats).Eps)))
	})
	register("LayerNorm", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		n := p.Out.Size()
		return one(d.elems("ln_forward", n, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), ptr(p.In[3]), i64(p.In[0].Shape[1]), i64(n)))
	})
	register("LayerNormGradX", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		dim := p.In[0].Shape[1]
		return one(d.grid("ln_grad_x", [3]int{p.In[0].Shape[0], 1, 1}, rowThreads(dim), ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]),
			ptr(p.In[2]), ptr(p.In[3]), i64(dim)))
	})
	register("LayerNormGradGamma", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		rows, dim := p.In[0].Shape[0], p.In[0].Shape[1]
		return d.columnSums("ln_grad_gamma", rows, dim, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), i64(rows), i64(dim))
	})
	register("BatchNormStats", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		op := p.Op.(exec.BatchNormStats)
		n, c, inner := bnSplit(p.In[0].Shape)
		stats, err := d.grid("bn_stats", [3]int{c, 1, 1}, threads, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]),
			i64(n), i64(c), i64(inner), math.Float64bits(op.Momentum), math.Float64bits(op.Eps))
		if err != nil {
			return nil, err
		}
		count, err := d.grid("increment", [3]int{1, 1, 1}, 32, ptr(p.In[3]))
		if err != nil {
			return nil, err
		}
		return seq(stats, count), nil
	})
	register("BatchNormEvalStats", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		c := p.In[0].Size()
		return one(d.elems("bn_eval_stats", c, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), i64(c),
			math.Float64bits(p.Op.(exec.BatchNormEvalStats).Eps)))
	})
	register("BatchNorm", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		_, c, inner := bnSplit(p.In[0].Shape)
		n := p.Out.Size()
		return one(d.elems("bn_forward", n, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), ptr(p.In[3]), i64(c), i64(inner), i64(n)))
	})
	register("BatchNormSums", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		n, c, inner := bnSplit(p.In[0].Shape)
		return one(d.grid("bn_sums", [3]int{c, 1, 1}, threads, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), i64(n), i64(c), i64(inner)))
	})
	register("BatchNormRow", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		c := p.In[0].Shape[1]
		return one(d.copy2d(p.Out.Buf, 0, 0, p.In[0].Buf, p.Op.(exec.BatchNormRow).Row*c, 0, 1, c))
	})
	register("BatchNormInputGrad", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		_, c, inner := bnSplit(p.In[0].Shape)
		var sums uint64
		if p.Op.(exec.BatchNormInputGrad).Training {
			sums = ptr(p.In[4])
		}
		n := p.Out.Size()
		return one(d.elems("bn_input_grad", n, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), ptr(p.In[3]), sums, i64(c), i64(inner), i64(n)))
	})
}

// columnSums zeroes out [cols] and launches a column-sum kernel (ln_grad_gamma,
// col_sums) over rows: blocks of 32 columns, the rows shared among up to 64 blocks.
func (d *Device) columnSums(name string, rows, cols int, out uint64, args ...uint64) (exec.Launch, error) {
	zero, err := d.elems("fill", cols, out, f32(0), i64(cols))
	if err != nil {
		return nil, err
	}
	sum, err := d.grid(name, [3]int{(cols + 31) / 32, min(max(rows/256, 1), 64), 1}, 256, append([]uint64{out}, args...)...)
	if err != nil {
		return nil, err
	}
	return seq(zero, sum), nil
}

// bnSplit returns batch, channels and the elements per channel of an [N, C, ...] shape.
func bnSplit(s []int) (n, c, inner int) { return s[0], s[1], exec.Size(s[2:]) }
