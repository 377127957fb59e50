package cpu

import (
	"fmt"
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// Element-wise ops, reductions over axes, softmax, and the copies of Join and Block.

// elemGrain is the fewest elements of simple element-wise work worth a thread.
const elemGrain = 1 << 14

func init() {
	register("Add", binaryKernel[float32](opAdd), binaryKernel[float64](opAdd))
	register("Sub", binaryKernel[float32](opSub), binaryKernel[float64](opSub))
	register("Mul", binaryKernel[float32](opMul), binaryKernel[float64](opMul))
	register("Affine", affineKernel[float32], affineKernel[float64])
	register("Map", mapKernel[float32], mapKernel[float64])
	register("MapGrad", mapGradKernel[float32], mapGradKernel[float64])
	register("Sum", sumKernel[float32], sumKernel[float64])
	register("SumGrad", sumGradKernel[float32], sumGradKernel[float64])
	register("Softmax", softmaxKernel[float32], softmaxKernel[float64])
	register("SoftmaxGrad", softmaxGradKernel[float32], softmaxGradKernel[float64])
	register("Join", joinKernel[float32], joinKernel[float64])
	register("Block", blockKernel[float32], blockKernel[float64])
	register("BlockPad", blockPadKernel[float32], blockPadKernel[float64])
}

// launch runs body over n items split across threads.
func launch(n, grain int, body func(lo, hi int)) exec.Launch {
	return func() error {
		For(n, grain, body)
		return nil
	}
}

type binop uint8

const (
	opAdd binop = iota
	opSub
	opMul
)

// binaryKernel is a + b, a − b or a ⊙ b.
func binaryKernel[T float](op binop) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		y, a, b := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
		if len(a) != len(y) || len(b) != len(y) {
			return nil, fmt.Errorf("element-wise op on %v and %v into %v", p.In[0].Shape, p.In[1].Shape, p.Out.Shape)
		}
		var body func(lo, hi int)
		switch op {
		case opAdd:
			body = func(lo, hi int) { AddRange(y[lo:hi], a[lo:hi], b[lo:hi]) }
		case opSub:
			body = func(lo, hi int) {
				for i := lo; i < hi; i++ {
					y[i] = a[i] - b[i]
				}
			}
		default:
			body = func(lo, hi int) {
				for i := lo; i < hi; i++ {
					y[i] = a[i] * b[i]
				}
			}
		}
		return launch(len(y), elemGrain, body), nil
	}
}

// AddRange is y = a + b over equal-length slices.
func AddRange[T float](y, a, b []T) {
	a, b = a[:len(y)], b[:len(y)]
	for i := range y {
		y[i] = a[i] + b[i]
	}
}

func affineKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Affine)
	y, x := data[T](p.Out), data[T](p.In[0])
	s, c := T(op.Scale), T(op.Shift)
	return launch(len(y), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = s*x[i] + c
		}
	}), nil
}

// sigmoid64 is 1/(1+e^−x) without overflow for large |x|.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// MapFunc returns the element function of fn, in float64.
func MapFunc(fn exec.MapFn, alpha float64) func(float64) float64 {
	switch fn {
	case exec.ReLU:
		return func(x float64) float64 { return max(x, 0) }
	case exec.LeakyReLU:
		return func(x float64) float64 { return max(x, 0) + alpha*min(x, 0) }
	case exec.Tanh:
		return math.Tanh
	case exec.Sigmoid:
		return sigmoid64
	case exec.Exp:
		return math.Exp
	}
	return func(x float64) float64 { return x * x }
}

// mapDeriv returns fn' in terms of y = fn(x) (or of x, for square).
func mapDeriv(fn exec.MapFn, alpha float64) func(float64) float64 {
	switch fn {
	case exec.ReLU:
		return func(y float64) float64 { return step(y > 0) }
	case exec.LeakyReLU: // the sign of y is the sign of x for alpha > 0
		return func(y float64) float64 { return step(y > 0) + alpha*step(y <= 0) }
	case exec.Tanh:
		return func(y float64) float64 { return 1 - y*y }
	case exec.Sigmoid:
		return func(y float64) float64 { return y * (1 - y) }
	case exec.Exp:
		return func(y float64) float64 { return y }
	}
	return func(x float64) float64 { return 2 * x }
}

func step(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// mapKernel computes y = fn(x). The piecewise-linear activations get loops of their own:
// a function call per element costs more than they do.
func mapKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Map)
	y, x := data[T](p.Out), data[T](p.In[0])
	a := T(op.Alpha)
	var body func(lo, hi int)
	switch op.Fn {
	case exec.ReLU:
		body = func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y[i] = max(x[i], 0)
			}
		}
	case exec.LeakyReLU:
		body = func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if v := x[i]; v > 0 {
					y[i] = v
				} else {
					y[i] = a * v
				}
			}
		}
	default:
		f := MapFunc(op.Fn, op.Alpha)
		body = func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y[i] = T(f(float64(x[i])))
			}
		}
	}
	return launch(len(y), elemGrain, body), nil
}

// mapGradKernel computes dx = dy·fn'(·) from (y or x, dy), with the same fast paths.
func mapGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.MapGrad)
	dx, y, dy := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	a := T(op.Alpha)
	var body func(lo, hi int)
	switch op.Fn {
	case exec.ReLU:
		body = func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if y[i] > 0 {
					dx[i] = dy[i]
				} else {
					dx[i] = 0
				}
			}
		}
	case exec.LeakyReLU:
		body = func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if y[i] > 0 {
					dx[i] = dy[i]
				} else {
					dx[i] = a * dy[i]
				}
			}
		}
	default:
		d := mapDeriv(op.Fn, op.Alpha)
		body = func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dx[i] = dy[i] * T(d(float64(y[i])))
			}
		}
	}
	return launch(len(dx), elemGrain, body), nil
}

// reduction describes a sum over some axes of a shape: each input element's output
// index, as an odometer over the input's axes.
type reduction struct {
	shape  []int
	stride []int // the output stride of each input axis (0 for a reduced axis)
	idx    []int // the odometer, reused by every call
}

func newReduction(shape, axes []int) reduction {
	reduced := make([]bool, len(shape))
	if len(axes) == 0 {
		for i := range reduced {
			reduced[i] = true
		}
	}
	for _, a := range axes {
		reduced[a] = true
	}
	r := reduction{shape: shape, stride: make([]int, len(shape)), idx: make([]int, len(shape))}
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if !reduced[i] {
			r.stride[i] = s
			s *= shape[i]
		}
	}
	return r
}

// each calls f(i, o) for every input index i with its output index o, in order.
func (r reduction) each(f func(i, o int)) {
	n := exec.Size(r.shape)
	idx := r.idx
	clear(idx)
	o := 0
	for i := range n {
		f(i, o)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			o += r.stride[d]
			if idx[d] < r.shape[d] {
				break
			}
			o -= r.stride[d] * idx[d]
			idx[d] = 0
		}
	}
}

// sumKernel sums over axes in float64. Sums in the models are small (a loss over a
// batch), so it runs on one thread, which also keeps its order fixed.
func sumKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Sum)
	y, x := data[T](p.Out), data[T](p.In[0])
	if len(y) == 1 {
		return func() error {
			y[0] = T(sumFloat64(x))
			return nil
		}, nil
	}
	r := newReduction(p.In[0].Shape, op.Axes)
	acc := make([]float64, len(y))
	return func() error {
		clear(acc)
		r.each(func(i, o int) { acc[o] += float64(x[i]) })
		for i, v := range acc {
			y[i] = T(v)
		}
		return nil
	}, nil
}

// sumFloat64 is Σx in float64, four terms at a time.
func sumFloat64[T float](x []T) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumGradKernel broadcasts the gradient of a sum back over the summed axes.
func sumGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.SumGrad)
	dx, dy := data[T](p.Out), data[T](p.In[0])
	if len(dy) == 1 {
		return func() error {
			v := dy[0]
			for i := range dx {
				dx[i] = v
			}
			return nil
		}, nil
	}
	r := newReduction(p.Out.Shape, op.Axes)
	return func() error {
		r.each(func(i, o int) { dx[i] = dy[o] })
		return nil
	}, nil
}

// SoftmaxRows turns each row of s [rows, cols] into probabilities, in place: with causal,
// row i keeps columns ≤ i; with a mask, only columns whose mask is 1. A row with nothing
// to attend to becomes all zeros.
func SoftmaxRows[T float](s []T, rows, cols int, causal bool, mask []T) {
	for i := range rows {
		row := s[i*cols : (i+1)*cols]
		keep := func(j int) bool { return (!causal || j <= i) && (mask == nil || mask[j] != 0) }
		m := math.Inf(-1)
		for j, v := range row {
			if keep(j) && float64(v) > m {
				m = float64(v)
			}
		}
		if math.IsInf(m, -1) {
			clear(row)
			continue
		}
		var sum float64
		for j, v := range row {
			if keep(j) {
				e := math.Exp(float64(v) - m)
				row[j] = T(e)
				sum += e
			} else {
				row[j] = 0
			}
		}
		for j := range row {
			row[j] = T(float64(row[j]) / sum)
		}
	}
}

func softmaxKernel[T float](p *exec.Prep) (exec.Launch, error) {
	y, x := data[T](p.Out), data[T](p.In[0])
	k := p.In[0].Shape[len(p.In[0].Shape)-1]
	rows := len(x) / k
	return launch(rows, max(1, elemGrain/(8*k)), func(lo, hi int) {
		copy(y[lo*k:hi*k], x[lo*k:hi*k])
		SoftmaxRows(y[lo*k:hi*k], hi-lo, k, false, nil)
	}), nil
}

func softmaxGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	dx, y, dy := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	k := p.In[0].Shape[len(p.In[0].Shape)-1]
	rows := len(y) / k
	return launch(rows, max(1, elemGrain/(4*k)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, gr, out := y[r*k:(r+1)*k], dy[r*k:(r+1)*k], dx[r*k:(r+1)*k]
			var dot float64
			for j := range yr {
				dot += float64(yr[j]) * float64(gr[j])
			}
			for j := range yr {
				out[j] = T(float64(yr[j]) * (float64(gr[j]) - dot))
			}
		}
	}), nil
}

// joinKernel copies the inputs into the output: one after the other along axis 0, or row
// by row side by side along axis 1.
func joinKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Join)
	y := data[T](p.Out)
	xs := make([][]T, len(p.In))
	widths := make([]int, len(p.In))
	for i, in := range p.In {
		xs[i] = data[T](in)
		if op.Axis == 1 {
			widths[i] = in.Shape[1]
		}
	}
	if op.Axis == 0 {
		return func() error {
			off := 0
			for _, x := range xs {
				off += copy(y[off:], x)
			}
			return nil
		}, nil
	}
	rows, width := p.Out.Shape[0], p.Out.Shape[1]
	return launch(rows, max(1, elemGrain/width), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			col := 0
			for i, x := range xs {
				w := widths[i]
				copy(y[r*width+col:r*width+col+w], x[r*w:(r+1)*w])
				col += w
			}
		}
	}), nil
}

// blockKernel copies rows [start, start+size) (axis 0) or columns (axis 1) out of x.
func blockKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Block)
	y, x := data[T](p.Out), data[T](p.In[0])
	s := p.In[0].Shape
	inner := exec.Size(s[1:])
	if op.Axis == 0 {
		src := x[op.Start*inner : (op.Start+op.Size)*inner]
		return func() error {
			copy(y, src)
			return nil
		}, nil
	}
	w := s[1]
	return launch(s[0], max(1, elemGrain/op.Size), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(y[r*op.Size:(r+1)*op.Size], x[r*w+op.Start:r*w+op.Start+op.Size])
		}
	}), nil
}

// blockPadKernel places x at rows [start, start+size) (axis 0) or columns (axis 1) of an
// otherwise zero output.
func blockPadKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.BlockPad)
	y, x := data[T](p.Out), data[T](p.In[0])
	s := p.Out.Shape
	if op.Axis == 0 {
		inner := exec.Size(s[1:])
		dst := y[op.Start*inner : op.Start*inner+len(x)]
		return func() error {
			clear(y)
			copy(dst, x)
			return nil
		}, nil
	}
	w, size := s[1], p.In[0].Shape[1]
	return func() error {
		clear(y)
		for r := range s[0] {
			copy(y[r*w+op.Start:r*w+op.Start+size], x[r*size:(r+1)*size])
		}
		return nil
	}, nil
}

func init() { register("Dropout", dropoutKernel[float32], dropoutKernel[float64]) }

// dropoutKernel is x ⊙ m with the counter-based mask of exec.Dropout.
func dropoutKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.Dropout)
	y, x := data[T](p.Out), data[T](p.In[0])
	thr, scale := exec.DropoutThreshold(op.P), T(1/(1-op.P))
	var seed uint64
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if uint64(exec.DropoutBits(seed, i)) >= thr {
				y[i] = x[i] * scale
			} else {
				y[i] = 0
			}
		}
	}
	return func() error {
		seed = *op.Seed
		For(len(y), elemGrain, body)
		return nil
	}, nil
}
