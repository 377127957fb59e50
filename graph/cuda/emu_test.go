//go:build aigc_emu

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
)

// The tests run every kernel of the table in the host emulation of a GPU (kernels/emu.h)
// and compare it with the CPU device's op on random inputs of awkward sizes.

var emu = func() *Device {
	d, err := NewEmulated()
	if err != nil {
		panic(err)
	}
	return d
}()

// operand is one input of an op case: its shape and values.
type operand struct {
	shape []int
	data  []float32
}

func randn(r *rand.Rand, shape ...int) operand {
	x := make([]float32, exec.Size(shape))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return operand{shape: shape, data: x}
}

func uniform(r *rand.Rand, lo, hi float64, shape ...int) operand {
	x := make([]float32, exec.Size(shape))
	for i := range x {
		x[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return operand{shape: shape, data: x}
}

// ints is values in [0, n) as float32s (labels, token ids).
func ints(r *rand.Rand, n int, shape ...int) operand {
	x := make([]float32, exec.Size(shape))
	for i := range x {
		x[i] = float32(r.IntN(n))
	}
	return operand{shape: shape, data: x}
}

// result is what a run of one op leaves: its output and every input afterwards (ops that
// update their inputs).
type result struct {
	out []float32
	ins [][]float32
}

func runOp(t *testing.T, dev exec.Device, op exec.Op, outShape []int, ins []operand) result {
	t.Helper()
	g := &exec.Graph{}
	var idx []int
	hosts := make([][]float32, len(ins))
	for i, in := range ins {
		hosts[i] = slices.Clone(in.data)
		idx = append(idx, g.Leaf(hosts[i], true, in.shape...))
	}
	if outShape == nil {
		g.Update(op, "", idx...)
	} else {
		g.Outputs = []int{g.Apply(op, "", exec.Float32, outShape, idx...)}
	}
	p, err := exec.Compile(dev, g)
	if err != nil {
		t.Fatalf("%s: %v", dev.Name(), err)
	}
	defer p.Close()
	if err := p.Run(); err != nil {
		t.Fatalf("%s: %v", dev.Name(), err)
	}
	var r result
	if outShape != nil {
		r.out = slices.Clone(p.Output(0).([]float32))
	}
	for _, h := range hosts {
		b, err := dev.Bind(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.CopyOut(b); err != nil {
			t.Fatal(err)
		}
		dev.Free(b)
		r.ins = append(r.ins, h)
	}
	return r
}

// close reports whether got matches want to float32 relative error tol, elements near 0
// judged against the tensor's scale.
func closeTo(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d elements, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > tol*(math.Abs(w)+1e-2*scale+1e-6) {
			return fmt.Errorf("element %d: %.7g, want %.7g", i, g, w)
		}
	}
	return nil
}

// check runs op on the emulated GPU and on the CPU and compares what they leave.
func check(t *testing.T, op exec.Op, outShape []int, ins ...operand) {
	t.Helper()
	want := runOp(t, cpu.Device, op, outShape, ins)
	got := runOp(t, emu, op, outShape, ins)
	const tol = 1e-4
	if err := closeTo(got.out, want.out, tol); err != nil {
		t.Errorf("%s output: %v", op.Kind(), err)
	}
	for i := range want.ins {
		if err := closeTo(got.ins[i], want.ins[i], tol); err != nil {
			t.Errorf("%s input %d afterwards: %v", op.Kind(), i, err)
		}
	}
}

func TestElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := randn(r, 37, 29), randn(r, 37, 29)
	s := []int{37, 29}
	for _, op := range []exec.Op{exec.Add{}, exec.Sub{}, exec.Mul{}} {
		check(t, op, s, a, b)
	}
	check(t, exec.Affine{Scale: -1.5, Shift: 0.25}, s, a)
	for fn := exec.ReLU; fn <= exec.Square; fn++ {
		check(t, exec.Map{Fn: fn, Alpha: 0.2}, s, a)
		y := runOp(t, cpu.Device, exec.Map{Fn: fn, Alpha: 0.2}, s, []operand{a}).out
		x := a
		if fn.FromOutput() {
			x = operand{shape: s, data: y}
		}
		check(t, exec.MapGrad{Fn: fn, Alpha: 0.2}, s, x, b)
	}
	check(t, exec.GELU{}, s, a)
	check(t, exec.GELUGrad{}, s, a, b)
}

func TestFused(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	s := []int{1031}
	x, y, z := randn(r, s...), randn(r, s...), randn(r, s...)
	// (tanh(x·y) + z)·0.5 − 1, its GELU, and a MapGrad reading an input and a step.
	op := exec.Fused{Steps: []exec.FusedStep{
		{Op: exec.Mul{}, Args: []int{0, 1}},
		{Op: exec.Map{Fn: exec.Tanh}, Args: []int{3}},
		{Op: exec.Add{}, Args: []int{4, 2}},
		{Op: exec.Affine{Scale: 0.5, Shift: -1}, Args: []int{5}},
		{Op: exec.GELU{}, Args: []int{6}},
		{Op: exec.MapGrad{Fn: exec.LeakyReLU, Alpha: 0.1}, Args: []int{7, 0}},
		{Op: exec.GELUGrad{}, Args: []int{8, 1}},
		{Op: exec.Sub{}, Args: []int{9, 2}},
	}}
	check(t, op, s, x, y, z)
}

func TestBiasAndSums(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 4))
	x := randn(r, 5, 7, 3, 11)
	for axis := range 4 {
		n := x.shape[axis]
		check(t, exec.AddBias{Axis: axis}, x.shape, x, randn(r, n))
		check(t, exec.BiasGrad{Axis: axis}, []int{n}, x)
	}
	for _, ax := range [][]int{nil, {0}, {1}, {3}, {0, 2}, {1, 3}, {0, 1, 2}} {
		out := []int{} // a scalar when every axis is summed
		red := map[int]bool{}
		for _, a := range ax {
			red[a] = true
		}
		for i, d := range x.shape {
			if len(ax) > 0 && !red[i] {
				out = append(out, d)
			}
		}
		check(t, exec.Sum{Axes: ax}, out, x)
		dy := randn(r, out...)
		check(t, exec.SumGrad{Axes: ax}, x.shape, dy)
	}
}

func TestSoftmaxAndCopies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 5))
	x := randn(r, 13, 300)
	check(t, exec.Softmax{}, x.shape, x)
	y := runOp(t, cpu.Device, exec.Softmax{}, x.shape, []operand{x}).out
	check(t, exec.SoftmaxGrad{}, x.shape, operand{shape: x.shape, data: y}, randn(r, 13, 300))
	a, b := randn(r, 7, 5), randn(r, 7, 3)
	check(t, exec.Join{Axis: 1}, []int{7, 8}, a, b)
	check(t, exec.Join{Axis: 0}, []int{14, 5}, a, randn(r, 7, 5))
	check(t, exec.Block{Axis: 0, Start: 2, Size: 3}, []int{3, 5}, a)
	check(t, exec.Block{Axis: 1, Start: 1, Size: 3}, []int{7, 3}, a)
	check(t, exec.BlockPad{Axis: 0, Start: 2, Total: 9}, []int{9, 5}, a)
	check(t, exec.BlockPad{Axis: 1, Start: 2, Total: 9}, []int{7, 9}, a)
}

func TestLosses(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 6))
	l, tg := randn(r, 9, 785), uniform(r, 0, 1, 9, 785)
	check(t, exec.BCEWithLogits{}, []int{9}, l, tg)
	check(t, exec.BCEWithLogitsGrad{}, l.shape, l, tg, randn(r, 9))
	x, labels := randn(r, 11, 67), ints(r, 67, 11)
	st := runOp(t, cpu.Device, exec.XentStats{}, []int{11, 2}, []operand{x}).out
	check(t, exec.XentStats{}, []int{11, 2}, x)
	stats := operand{shape: []int{11, 2}, data: st}
	check(t, exec.Xent{}, []int{11}, x, labels, stats)
	check(t, exec.XentGrad{}, x.shape, x, labels, stats, randn(r, 11))
}

// A label outside the classes is an error of the run, as on the CPU.
func TestBadLabel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 7))
	x := randn(r, 3, 5)
	st := runOp(t, cpu.Device, exec.XentStats{}, []int{3, 2}, []operand{x}).out
	g := &exec.Graph{}
	lx := g.Leaf(x.data, false, 3, 5)
	ll := g.Leaf([]float32{1, 5, 0}, false, 3)
	ls := g.Leaf(st, false, 3, 2)
	g.Outputs = []int{g.Apply(exec.Xent{}, "", exec.Float32, []int{3}, lx, ll, ls)}
	p, err := exec.Compile(emu, g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Run(); err == nil || !strings.Contains(err.Error(), "label outside the classes") {
		t.Fatalf("a label of 5 among 5 classes: %v", err)
	}
	if err := p.Run(); err == nil {
		t.Fatal("the second run passed")
	}
}

func TestNorms(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 8))
	x, gamma, beta := randn(r, 13, 45), randn(r, 45), randn(r, 45)
	op := exec.LayerNormStats{Eps: 1e-5}
	check(t, op, []int{13, 2}, x)
	st := operand{shape: []int{13, 2}, data: runOp(t, cpu.Device, op, []int{13, 2}, []operand{x}).out}
	dy := randn(r, 13, 45)
	check(t, exec.LayerNorm{}, x.shape, x, gamma, beta, st)
	check(t, exec.LayerNormGradX{}, x.shape, x, gamma, st, dy)
	check(t, exec.LayerNormGradGamma{}, []int{45}, x, st, dy)
	// Rows enough for the column sums to split them among blocks.
	big := randn(r, 700, 45)
	bigSt := operand{shape: []int{700, 2}, data: runOp(t, cpu.Device, op, []int{700, 2}, []operand{big}).out}
	check(t, exec.LayerNormGradGamma{}, []int{45}, big, bigSt, randn(r, 700, 45))
	check(t, exec.BiasGrad{Axis: 1}, []int{45}, big)

	for _, shape := range [][]int{{6, 5, 7, 3}, {10, 9}} {
		x := randn(r, shape...)
		c := shape[1]
		rm, rv := randn(r, c), uniform(r, 0.5, 2, c)
		bn := exec.BatchNormStats{Momentum: 0.1, Eps: 1e-5}
		check(t, bn, []int{2, c}, x, rm, rv, operand{shape: []int{1}, data: []float32{3}})
		check(t, exec.BatchNormEvalStats{Eps: 1e-5}, []int{2, c}, rm, rv)
		st := operand{shape: []int{2, c}, data: runOp(t, cpu.Device, bn, []int{2, c},
			[]operand{x, rm, rv, {shape: []int{1}, data: []float32{0}}}).out}
		w, b, dy := randn(r, c), randn(r, c), randn(r, shape...)
		check(t, exec.BatchNorm{}, shape, x, st, w, b)
		check(t, exec.BatchNormSums{}, []int{2, c}, x, st, dy)
		sums := operand{shape: []int{2, c}, data: runOp(t, cpu.Device, exec.BatchNormSums{}, []int{2, c}, []operand{x, st, dy}).out}
		check(t, exec.BatchNormRow{Row: 1}, []int{c}, sums)
		check(t, exec.BatchNormInputGrad{Training: false}, shape, x, st, w, dy)
		check(t, exec.BatchNormInputGrad{Training: true}, shape, x, st, w, dy, sums)
	}
}

func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		sa, sb := []int{13, 7}, []int{7, 11}
		if tr[0] {
			sa = []int{7, 13}
		}
		if tr[1] {
			sb = []int{11, 7}
		}
		a, b := randn(r, sa...), randn(r, sb...)
		check(t, exec.MatMul{TransA: tr[0], TransB: tr[1]}, []int{13, 11}, a, b)
		check(t, exec.MatMul{TransA: tr[0], TransB: tr[1], Bias: true,
			Epilogue: []exec.Op{exec.Map{Fn: exec.LeakyReLU, Alpha: 0.2}, exec.Affine{Scale: 2, Shift: 1}}},
			[]int{13, 11}, a, b, randn(r, 11))
	}
}

func TestEmbedding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 10))
	w, ids := randn(r, 17, 5), ints(r, 17, 23)
	check(t, exec.Lookup{}, []int{23, 5}, w, ids)
	check(t, exec.LookupGrad{Vocab: 17}, []int{17, 5}, ids, randn(r, 23, 5))
	check(t, exec.CacheWrite{Off: 3}, []int{9, 4}, randn(r, 9, 4), randn(r, 1, 10), operand{shape: []int{1}, data: []float32{6}})
}

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 11))
	const b, heads, dim, tq, tk = 3, 2, 10, 5, 7
	// Self-attention's q, k, v side by side in one [B·T, 3C] matrix; cross-attention's
	// queries from [B·Tq, C] and keys and values from [B·Tk, 2C] with a padding mask.
	self := exec.AttentionShape{Heads: heads, Dim: dim, Tq: tq, Tk: tq, QOff: 0, KOff: dim, VOff: 2 * dim, Causal: true}
	cross := exec.AttentionShape{Heads: heads, Dim: dim, Tq: tq, Tk: tk, QOff: 0, KOff: 0, VOff: dim, Masked: true}
	for _, a := range []exec.AttentionShape{self, cross} {
		q := randn(r, b*a.Tq, 3*dim)
		k := q
		if a.Masked {
			q, k = randn(r, b*a.Tq, dim), randn(r, b*a.Tk, 2*dim)
		}
		ins := []operand{q, k}
		if a.Masked {
			mask := uniform(r, 0, 1, b, a.Tk)
			for i := range mask.data {
				mask.data[i] = float32(int(mask.data[i] + 0.7))
			}
			mask.data[a.Tk] = 0 // a sequence with nothing to attend to for its first key
			ins = append(ins, mask)
		}
		pshape := []int{b * heads * a.Tq, a.Tk}
		check(t, exec.AttentionProbs{AttentionShape: a}, pshape, ins...)
		probs := operand{shape: pshape, data: runOp(t, cpu.Device, exec.AttentionProbs{AttentionShape: a}, pshape, ins).out}
		dy := randn(r, b*a.Tq, dim)
		check(t, exec.AttentionApply{AttentionShape: a}, []int{b * a.Tq, dim}, probs, k)
		check(t, exec.AttentionApplyGradP{AttentionShape: a}, pshape, k, dy)
		check(t, exec.AttentionApplyGradV{AttentionShape: a}, k.shape, probs, dy, k)
		dp := randn(r, pshape...)
		check(t, exec.AttentionProbsGradQ{AttentionShape: a}, q.shape, q, k, probs, dp)
		check(t, exec.AttentionProbsGradK{AttentionShape: a}, k.shape, q, k, probs, dp)
	}
}

func TestLSTM(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 12))
	const steps, b, h = 4, 3, 5
	a, s1, s2 := randn(r, b, 4*h), randn(r, b, h), randn(r, b, h)
	for fn := exec.LSTMC; fn <= exec.LSTMHGradC; fn++ {
		out := []int{b, h}
		if fn == exec.LSTMCGradGates || fn == exec.LSTMHGradGates {
			out = []int{b, 4 * h}
		}
		ins := []operand{a, s1}
		if fn != exec.LSTMC && fn != exec.LSTMH && fn != exec.LSTMCGradPrev {
			ins = append(ins, s2)
		}
		check(t, exec.LSTMCell{Fn: fn}, out, ins...)
	}
	xw, whh, h0, c0 := randn(r, steps*b, 4*h), uniform(r, -0.5, 0.5, 4*h, h), randn(r, b, h), randn(r, b, h)
	tshape := []int{steps * b, 6 * h}
	check(t, exec.LSTMSequence{Steps: steps}, tshape, xw, whh, h0, c0)
	tape := operand{shape: tshape, data: runOp(t, cpu.Device, exec.LSTMSequence{Steps: steps}, tshape, []operand{xw, whh, h0, c0}).out}
	pshape := []int{steps*b + h + b, 4 * h}
	ins := []operand{whh, h0, c0, tape, randn(r, tshape...)}
	check(t, exec.LSTMSequenceGrad{Steps: steps}, pshape, ins...)
	packed := operand{shape: pshape, data: runOp(t, cpu.Device, exec.LSTMSequenceGrad{Steps: steps}, pshape, ins).out}
	for part, shape := range [][]int{{steps * b, 4 * h}, {4 * h, h}, {b, h}, {b, h}} {
		check(t, exec.LSTMUnpack{Steps: steps, Part: part}, shape, packed)
	}
	for part, shape := range [][]int{{steps * b, h}, {b, h}, {b, h}} {
		check(t, exec.LSTMPick{Steps: steps, Part: part}, shape, tape)
		check(t, exec.LSTMPick{Steps: steps, Part: part, Grad: true}, tshape, randn(r, shape...))
	}
}

func TestElman(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 13))
	const steps, b, in, h = 5, 3, 7, 6
	x, h0, w, bias := randn(r, steps*b, in), randn(r, b, h), uniform(r, -0.4, 0.4, h, in+h), randn(r, h)
	sshape := []int{(steps + 1) * b, h}
	for _, tanh := range []bool{true, false} {
		op := exec.ElmanSequence{Steps: steps, Tanh: tanh}
		check(t, op, sshape, x, h0, w, bias)
		st := operand{shape: sshape, data: runOp(t, cpu.Device, op, sshape, []operand{x, h0, w, bias}).out}
		check(t, exec.ElmanSequenceGrad{Steps: steps, Tanh: tanh}, sshape, w, st, randn(r, sshape...))
	}
}

func TestConvAndPool(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 14))
	for _, c := range []struct{ n, ci, h, w, co, k, stride, pad int }{
		{2, 3, 9, 7, 4, 3, 1, 1}, {3, 2, 11, 10, 5, 4, 2, 1}, {1, 4, 6, 6, 3, 5, 1, 0},
	} {
		x, w := randn(r, c.n, c.ci, c.h, c.w), randn(r, c.co, c.ci, c.k, c.k)
		ho, wo := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
		yshape := []int{c.n, c.co, ho, wo}
		check(t, exec.Conv2d{Stride: c.stride, Pad: c.pad}, yshape, x, w)
		// The transpose maps y's shape back to x's (the DCGAN's up-sampling), with the
		// weight [Ci, Co, K, K] of its input's channels.
		dy := randn(r, yshape...)
		wt := randn(r, c.co, c.ci, c.k, c.k)
		check(t, exec.ConvTranspose2d{Stride: c.stride, Pad: c.pad, OutH: c.h, OutW: c.w}, x.shape, dy, wt)
		check(t, exec.ConvWeightGrad{Stride: c.stride, Pad: c.pad, K: c.k}, []int{c.co, c.ci, c.k, c.k}, x, dy)
	}
	x := randn(r, 2, 3, 9, 8)
	for _, ks := range [][2]int{{2, 2}, {3, 2}} {
		oh, ow := (9-ks[0])/ks[1]+1, (8-ks[0])/ks[1]+1
		check(t, exec.MaxPool2d{K: ks[0], Stride: ks[1]}, []int{2, 3, oh, ow}, x)
		check(t, exec.MaxPool2dGrad{K: ks[0], Stride: ks[1]}, x.shape, x, randn(r, 2, 3, oh, ow))
	}
}

func TestOptimiser(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 15))
	g1, g2 := randn(r, 1000), randn(r, 37)
	check(t, exec.SumSquares{}, []int{}, g1, g2)
	normsq := operand{shape: []int{}, data: runOp(t, cpu.Device, exec.SumSquares{}, []int{}, []operand{g1, g2}).out}
	args := &exec.AdamArgs{LR: 1e-3, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1, StepSize: 1e-3 / (1 - 0.9*0.9),
		InvSqrtBC2: 1 / math.Sqrt(1-0.99*0.99), Clip: 1, AvgRate: 0.9}
	w, m, v := randn(r, 1000), randn(r, 1000), uniform(r, 0, 1, 1000)
	check(t, exec.AdamStep{Args: args}, nil, w, g1, m, v)
	check(t, exec.AdamStep{Args: args, Decay: true, Avg: true, Norm: true}, nil, w, g1, m, v, randn(r, 1000), normsq)
	inf := operand{shape: []int{}, data: []float32{float32(math.Inf(1))}}
	check(t, exec.AdamStep{Args: args, Norm: true}, nil, w, g1, m, v, inf) // nothing moves
	rate := 0.95
	check(t, exec.EMAStep{Rate: &rate}, nil, w, randn(r, 1000))
	check(t, exec.Swap{}, nil, w, randn(r, 1000))
}
