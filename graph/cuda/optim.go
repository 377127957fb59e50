package cuda

import (
	"github.com/aigc-go/aigc/graph/exec"
)

// The optimiser's passes (kernels/optim.cu): the step's scalars are read from the host
// (exec.AdamArgs, EMAStep.Rate) at each launch; the gradients' norm stays on the device.

func init() {
	register("SumSquares", sumSquares)
	register("AdamStep", adamStep)
	register("EMAStep", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		op := p.Op.(exec.EMAStep)
		n := p.In[0].Size()
		c, err := d.elems("ema", n, ptr(p.In[0]), ptr(p.In[1]), 0, i64(n))
		if err != nil {
			return nil, err
		}
		return func() error {
			c.args[2] = f32(*op.Rate)
			return c.run()
		}, nil
	})
	register("Swap", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		n := p.In[0].Size()
		return one(d.elems("swap", n, ptr(p.In[0]), ptr(p.In[1]), i64(n)))
	})
}

// normBlocks is NORM_BLOCKS of optim.cu: the partial sums per input.
const normBlocks = 32

// sumSquares adds each input's Σx² in normBlocks partial sums (double) in scratch, then
// all partials in order.
func sumSquares(d *Device, p *exec.Prep) (exec.Launch, error) {
	parts := normBlocks * len(p.In)
	s := p.Scratch(exec.Float32, 2*parts) // doubles
	part, err := d.fn("sum_squares_part")
	if err != nil {
		return nil, err
	}
	total, err := d.fn("sum_parts")
	if err != nil {
		return nil, err
	}
	ins := make([]exec.Operand, len(p.In))
	copy(ins, p.In)
	args := make([]uint64, 3)
	return func() error {
		buf := s.Buf()
		for i, in := range ins {
			args[0], args[1], args[2] = uint64(at(buf, 2*normBlocks*i)), ptr(in), i64(in.Size())
			if err := d.drv.Launch(part, [3]int{normBlocks, 1, 1}, [3]int{threads, 1, 1}, 0, args); err != nil {
				return err
			}
		}
		return d.drv.Launch(total, [3]int{1, 1, 1}, [3]int{32, 1, 1}, 0, []uint64{ptr(p.Out), pm(buf), i64(parts)})
	}, nil
}

func adamStep(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.AdamStep)
	n := p.In[0].Size()
	next := 4
	var avg, normsq uint64
	if op.Avg {
		avg = ptr(p.In[next])
		next++
	}
	if op.Norm {
		normsq = ptr(p.In[next])
	}
	c, err := d.elems("adam", n, ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), ptr(p.In[3]), avg, normsq,
		0, 0, 0, 0, 0, 0, 0, 0, i64(n))
	if err != nil {
		return nil, err
	}
	return func() error {
		a := op.Args
		shrink := 1.0
		if op.Decay && a.WeightDecay > 0 {
			shrink = 1 - a.LR*a.WeightDecay
		}
		for i, v := range []float64{a.Clip, shrink, a.Beta1, a.Beta2, a.StepSize, a.InvSqrtBC2, a.Eps, a.AvgRate} {
			c.args[6+i] = f32(v)
		}
		return c.run()
	}, nil
}
