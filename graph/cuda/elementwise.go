package cuda

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// Element-wise ops, their fused chains, sums over axes and their broadcasts, biases,
// softmax, and the copies of Join and Block (kernels/elementwise.cu).

func init() {
	register("Add", pairwise("ew_add"))
	register("Sub", pairwise("ew_sub"))
	register("Mul", pairwise("ew_mul"))
	register("Affine", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		op := p.Op.(exec.Affine)
		return one(d.elems("ew_affine", p.Out.Size(), ptr(p.Out), ptr(p.In[0]), f32(op.Scale), f32(op.Shift), i64(p.Out.Size())))
	})
	register("Map", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		op := p.Op.(exec.Map)
		return one(d.elems("ew_map", p.Out.Size(), ptr(p.Out), ptr(p.In[0]), i64(int(op.Fn)), f32(op.Alpha), i64(p.Out.Size())))
	})
	register("MapGrad", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		op := p.Op.(exec.MapGrad)
		return one(d.elems("ew_map_grad", p.Out.Size(), ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), i64(int(op.Fn)), f32(op.Alpha), i64(p.Out.Size())))
	})
	register("GELU", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		return one(d.elems("ew_gelu", p.Out.Size(), ptr(p.Out), ptr(p.In[0]), i64(p.Out.Size())))
	})
	register("GELUGrad", pairwise("ew_gelu_grad"))
	register("Fused", fused)
	register("AddBias", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		outer, c, inner := split(p.In[0].Shape, p.Op.(exec.AddBias).Axis)
		return one(d.elems("add_bias", outer*c*inner, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), i64(c), i64(inner), i64(outer*c*inner)))
	})
	register("BiasGrad", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		outer, c, inner := split(p.In[0].Shape, p.Op.(exec.BiasGrad).Axis)
		if inner == 1 { // [rows, c]: a linear layer's bias
			return d.columnSums("col_sums", outer, c, ptr(p.Out), ptr(p.In[0]), i64(outer), i64(c))
		}
		return one(d.grid("bias_grad", [3]int{c, 1, 1}, threads, ptr(p.Out), ptr(p.In[0]), i64(outer), i64(c), i64(inner)))
	})
	register("Sum", sum)
	register("SumGrad", sumGrad)
	register("Softmax", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		k := p.In[0].Shape[len(p.In[0].Shape)-1]
		return one(d.grid("softmax_rows", [3]int{p.In[0].Size() / k, 1, 1}, rowThreads(k), ptr(p.Out), ptr(p.In[0]), i64(k)))
	})
	register("SoftmaxGrad", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		k := p.In[0].Shape[len(p.In[0].Shape)-1]
		return one(d.grid("softmax_grad_rows", [3]int{p.In[0].Size() / k, 1, 1}, rowThreads(k), ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), i64(k)))
	})
	register("Dropout", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		op := p.Op.(exec.Dropout)
		n := p.Out.Size()
		c, err := d.elems("dropout", n, ptr(p.Out), ptr(p.In[0]), 0, exec.DropoutThreshold(op.P), f32(1/(1-op.P)), i64(n))
		if err != nil {
			return nil, err
		}
		return func() error {
			c.args[2] = *op.Seed // this step's mask
			return c.run()
		}, nil
	})
	register("Join", join)
	register("Block", block)
	register("BlockPad", blockPad)
}

// pairwise is a kernel of (y, a, b, n).
func pairwise(name string) kernel {
	return func(d *Device, p *exec.Prep) (exec.Launch, error) {
		n := p.Out.Size()
		if p.In[0].Size() != n || p.In[1].Size() != n {
			return nil, fmt.Errorf("element-wise op on %v and %v into %v", p.In[0].Shape, p.In[1].Shape, p.Out.Shape)
		}
		return one(d.elems(name, n, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), i64(n)))
	}
}

// split returns the sizes before, at and after axis.
func split(shape []int, axis int) (outer, n, inner int) {
	return exec.Size(shape[:axis]), shape[axis], exec.Size(shape[axis+1:])
}

// The limits and step codes of ew_fused (elementwise.cu).
const (
	fusedMaxIn    = 8
	fusedMaxSteps = 16
)

var fusedCode = map[string]uint32{"Add": 0, "Sub": 1, "Mul": 2, "Affine": 3, "Map": 4, "MapGrad": 5, "GELU": 6, "GELUGrad": 7}

// fused runs a Fused group with one launch.
func fused(d *Device, p *exec.Prep) (exec.Launch, error) {
	ins := make([]uint64, len(p.In))
	for i, in := range p.In {
		ins[i] = ptr(in)
	}
	return one(d.fusedCall(p.Op.(exec.Fused), ins, ptr(p.Out), p.Out.Size()))
}

// fusedCall writes a chain's program (struct FusedArgs of elementwise.cu) into device
// memory once and prepares the launch that interprets it over n elements.
func (d *Device) fusedCall(f exec.Fused, ins []uint64, out uint64, n int) (*call, error) {
	if len(ins) > fusedMaxIn || len(f.Steps) > fusedMaxSteps {
		return nil, fmt.Errorf("fused chain of %d inputs and %d steps: the kernel takes %d and %d", len(ins), len(f.Steps), fusedMaxIn, fusedMaxSteps)
	}
	prog := make([]byte, 8*fusedMaxIn+12*fusedMaxSteps)
	for i, in := range ins {
		binary.LittleEndian.PutUint64(prog[8*i:], in)
	}
	codes, p0s, p1s := prog[8*fusedMaxIn:], prog[8*fusedMaxIn+4*fusedMaxSteps:], prog[8*fusedMaxIn+8*fusedMaxSteps:]
	for s, st := range f.Steps {
		code, ok := fusedCode[st.Op.Kind()]
		if !ok {
			return nil, fmt.Errorf("no fused form of %s", st.Op.Kind())
		}
		for j, a := range st.Args {
			code |= uint32(a) << (8 + 8*j)
		}
		var p0, p1 float64
		switch op := st.Op.(type) {
		case exec.Affine:
			p0, p1 = op.Scale, op.Shift
		case exec.Map:
			code |= uint32(op.Fn) << 24
			p0 = op.Alpha
		case exec.MapGrad:
			code |= uint32(op.Fn) << 24
			p0 = op.Alpha
		}
		binary.LittleEndian.PutUint32(codes[4*s:], code)
		binary.LittleEndian.PutUint32(p0s[4*s:], math.Float32bits(float32(p0)))
		binary.LittleEndian.PutUint32(p1s[4*s:], math.Float32bits(float32(p1)))
	}
	table, err := d.constant(prog)
	if err != nil {
		return nil, err
	}
	return d.elems("ew_fused", n, out, uint64(table), i64(len(ins)), i64(len(f.Steps)), i64(n))
}

// axes splits shape into kept and reduced axes, each as (sizes, input strides).
func axes(shape, reduced []int) (keptN, keptS, redN, redS []int) {
	red := make([]bool, len(shape))
	for _, a := range reduced {
		red[a] = true
	}
	if len(reduced) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	stride := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if red[i] {
			redN, redS = append([]int{shape[i]}, redN...), append([]int{stride}, redS...)
		} else {
			keptN, keptS = append([]int{shape[i]}, keptN...), append([]int{stride}, keptS...)
		}
		stride *= shape[i]
	}
	return
}

// pad4 gives (sizes, strides) as 4 of each, outermost first, padded with size 1.
func pad4(n, s []int) ([]int, []int, error) {
	if len(n) > 4 {
		return nil, nil, fmt.Errorf("a sum over a tensor of more than 4 kept or summed axes")
	}
	for len(n) < 4 {
		n, s = append([]int{1}, n...), append([]int{0}, s...)
	}
	return n, s, nil
}

func sum(d *Device, p *exec.Prep) (exec.Launch, error) {
	kn, ks, rn, rs := axes(p.In[0].Shape, p.Op.(exec.Sum).Axes)
	kn, ks, err := pad4(kn, ks)
	if err != nil {
		return nil, err
	}
	if rn, rs, err = pad4(rn, rs); err != nil {
		return nil, err
	}
	out := p.Out.Size()
	return one(d.grid("sum_axes", [3]int{out, 1, 1}, threads, ptr(p.Out), ptr(p.In[0]),
		i64(kn[1]), i64(kn[2]), i64(kn[3]), i64(ks[0]), i64(ks[1]), i64(ks[2]), i64(ks[3]),
		i64(rn[0]), i64(rn[1]), i64(rn[2]), i64(rn[3]), i64(rs[0]), i64(rs[1]), i64(rs[2]), i64(rs[3])))
}

// sumGrad gives each of dx's axes its stride in dy (0 for a summed one).
func sumGrad(d *Device, p *exec.Prep) (exec.Launch, error) {
	shape := p.Out.Shape
	if len(shape) > 6 {
		return nil, fmt.Errorf("SumGrad over %d axes: the kernel takes 6", len(shape))
	}
	red := make([]bool, len(shape))
	for _, a := range p.Op.(exec.SumGrad).Axes {
		red[a] = true
	}
	all := len(p.Op.(exec.SumGrad).Axes) == 0
	n, s := make([]int, 6), make([]int, 6)
	for i := range n {
		n[i] = 1
	}
	stride := 1
	for i := len(shape) - 1; i >= 0; i-- {
		j := 6 - len(shape) + i
		n[j] = shape[i]
		if !red[i] && !all {
			s[j] = stride
			stride *= shape[i]
		}
	}
	size := p.Out.Size()
	return one(d.elems("sum_grad", size, ptr(p.Out), ptr(p.In[0]), i64(n[1]), i64(n[2]), i64(n[3]), i64(n[4]), i64(n[5]),
		i64(s[0]), i64(s[1]), i64(s[2]), i64(s[3]), i64(s[4]), i64(s[5]), i64(size)))
}

// copy2d prepares y[r·ys + c] = x[r·xs + c] over rows × cols, y and x given at offsets
// (in elements) into their buffers.
func (d *Device) copy2d(y exec.Buffer, yoff, ys int, x exec.Buffer, xoff, xs, rows, cols int) (*call, error) {
	return d.elems("copy2d", rows*cols, pm(y)+uint64(4*yoff), i64(ys), pm(x)+uint64(4*xoff), i64(xs), i64(rows), i64(cols))
}

func join(d *Device, p *exec.Prep) (exec.Launch, error) {
	axis := p.Op.(exec.Join).Axis
	var cs []*call
	off := 0
	for _, in := range p.In {
		var c *call
		var err error
		if axis == 0 {
			c, err = d.copy2d(p.Out.Buf, off, 0, in.Buf, 0, 0, 1, in.Size())
			off += in.Size()
		} else {
			rows, w := in.Shape[0], in.Shape[1]
			c, err = d.copy2d(p.Out.Buf, off, p.Out.Shape[1], in.Buf, 0, w, rows, w)
			off += w
		}
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return seq(cs...), nil
}

func block(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Block)
	s := p.In[0].Shape
	if op.Axis == 0 {
		inner := exec.Size(s[1:])
		return one(d.copy2d(p.Out.Buf, 0, 0, p.In[0].Buf, op.Start*inner, 0, 1, op.Size*inner))
	}
	return one(d.copy2d(p.Out.Buf, 0, op.Size, p.In[0].Buf, op.Start, s[1], s[0], op.Size))
}

func blockPad(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.BlockPad)
	s, x := p.Out.Shape, p.In[0]
	zero, err := d.elems("fill", p.Out.Size(), ptr(p.Out), f32(0), i64(p.Out.Size()))
	if err != nil {
		return nil, err
	}
	var c *call
	if op.Axis == 0 {
		c, err = d.copy2d(p.Out.Buf, op.Start*exec.Size(s[1:]), 0, x.Buf, 0, 0, 1, x.Size())
	} else {
		c, err = d.copy2d(p.Out.Buf, op.Start, s[1], x.Buf, 0, x.Shape[1], s[0], x.Shape[1])
	}
	if err != nil {
		return nil, err
	}
	return seq(zero, c), nil
}
