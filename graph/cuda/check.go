package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/aigc-go/aigc/graph/exec"
)

// The check of every kernel against a reference device (the CPU's): each op of the table
// on random inputs of awkward sizes (not multiples of a block), its output and every
// input it updates compared in float32 to a relative tolerance. The tests run it on the
// host emulation of a GPU; `aigc-cuda devices --check` runs it on a real one.

// CheckResult is one op case's outcome.
type CheckResult struct {
	Name   string  `json:"name"`
	Kind   string  `json:"kind"`
	MaxErr float64 `json:"max_rel_err"` // the largest element error, relative as closeTo measures it
	Err    string  `json:"error,omitempty"`
}

// Check runs every op case on dev and on ref and compares them to tol.
func Check(dev, ref exec.Device, tol float64) []CheckResult {
	c := &checker{dev: dev, ref0: ref, tol: tol}
	for _, cases := range []func(*checker){casesElementwise, casesFused, casesBiasAndSums, casesSoftmaxAndCopies,
		casesLosses, casesNorms, casesMatMul, casesEmbedding, casesAttention, casesLSTM, casesElman,
		casesConvAndPool, casesOptimiser} {
		cases(c)
	}
	return c.results
}

type checker struct {
	dev, ref0 exec.Device
	tol       float64
	results   []CheckResult
}

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

// runOp runs op once on dev; outShape nil means an op with no output.
func runOp(dev exec.Device, op exec.Op, outShape []int, ins []operand) (result, error) {
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
	var r result
	p, err := exec.Compile(dev, g)
	if err != nil {
		return r, err
	}
	defer p.Close()
	if err := p.Run(); err != nil {
		return r, err
	}
	if outShape != nil {
		r.out = slices.Clone(p.Output(0).([]float32))
	}
	for _, h := range hosts {
		b, err := dev.Bind(h)
		if err != nil {
			return r, err
		}
		err = dev.CopyOut(b)
		dev.Free(b)
		if err != nil {
			return r, err
		}
		r.ins = append(r.ins, h)
	}
	return r, nil
}

// ref runs op on the reference device, for the inputs of later cases (probabilities, an
// LSTM's tape).
func (c *checker) ref(op exec.Op, outShape []int, ins []operand) result {
	r, err := runOp(c.ref0, op, outShape, ins)
	if err != nil {
		panic(fmt.Sprintf("cuda: the reference device failed %s: %v", op.Kind(), err))
	}
	return r
}

// closeTo returns the largest element error of got against want, relative to the element
// (elements near 0 judged against the tensor's scale), or an error naming the first
// element beyond tol.
func closeTo(got, want []float32, tol float64) (float64, error) {
	if len(got) != len(want) {
		return math.Inf(1), fmt.Errorf("%d elements, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	worst := 0.0
	var first error
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) {
			return math.Inf(1), fmt.Errorf("element %d: %.7g, want %.7g", i, g, w)
		}
		if math.IsNaN(w) || g == w { // NaN where expected; equal infinities
			continue
		}
		e := math.Abs(g-w) / (math.Abs(w) + 1e-2*scale + 1e-6)
		worst = max(worst, e)
		if e > tol && first == nil {
			first = fmt.Errorf("element %d: %.7g, want %.7g", i, g, w)
		}
	}
	return worst, first
}

// check runs op on the device and on the reference and records how they compare.
func (c *checker) check(op exec.Op, outShape []int, ins ...operand) {
	res := CheckResult{Name: caseName(op, ins), Kind: op.Kind()}
	defer func() { c.results = append(c.results, res) }()
	want := c.ref(op, outShape, ins)
	got, err := runOp(c.dev, op, outShape, ins)
	if err != nil {
		res.Err, res.MaxErr = err.Error(), math.Inf(1)
		return
	}
	e, err := closeTo(got.out, want.out, c.tol)
	res.MaxErr = e
	if err != nil {
		res.Err = "output: " + err.Error()
	}
	for i := range want.ins {
		e, err := closeTo(got.ins[i], want.ins[i], c.tol)
		res.MaxErr = max(res.MaxErr, e)
		if err != nil && res.Err == "" {
			res.Err = fmt.Sprintf("input %d afterwards: %v", i, err)
		}
	}
}

// caseName is an op's kind, attributes and input shapes.
func caseName(op exec.Op, ins []operand) string {
	s := fmt.Sprintf("%+v", op)
	switch o := op.(type) {
	case exec.Fused:
		s = fmt.Sprintf("(%d steps)", len(o.Steps))
	case exec.AdamStep:
		s = fmt.Sprintf("{Decay:%v Avg:%v Norm:%v}", o.Decay, o.Avg, o.Norm)
	case exec.EMAStep:
		s = fmt.Sprintf("{Rate:%g}", *o.Rate)
	}
	var shapes []string
	for _, in := range ins {
		shapes = append(shapes, fmt.Sprint(in.shape))
	}
	if s == "{}" {
		s = ""
	}
	return fmt.Sprintf("%s%s %v", op.Kind(), s, shapes)
}

func casesElementwise(c *checker) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := randn(r, 37, 29), randn(r, 37, 29)
	s := []int{37, 29}
	for _, op := range []exec.Op{exec.Add{}, exec.Sub{}, exec.Mul{}} {
		c.check(op, s, a, b)
	}
	c.check(exec.Affine{Scale: -1.5, Shift: 0.25}, s, a)
	for fn := exec.ReLU; fn <= exec.Square; fn++ {
		c.check(exec.Map{Fn: fn, Alpha: 0.2}, s, a)
		y := c.ref(exec.Map{Fn: fn, Alpha: 0.2}, s, []operand{a}).out
		x := a
		if fn.FromOutput() {
			x = operand{shape: s, data: y}
		}
		c.check(exec.MapGrad{Fn: fn, Alpha: 0.2}, s, x, b)
	}
	c.check(exec.GELU{}, s, a)
	c.check(exec.GELUGrad{}, s, a, b)
	seed := uint64(0x5eed)
	for _, p := range []float64{0.1, 0.5} {
		c.check(exec.Dropout{P: p, Seed: &seed}, s, a) // the same mask as the CPU's, bit for bit
	}
}

func casesFused(c *checker) {
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
	c.check(op, s, x, y, z)
}

func casesBiasAndSums(c *checker) {
	r := rand.New(rand.NewPCG(1, 4))
	x := randn(r, 5, 7, 3, 11)
	for axis := range 4 {
		n := x.shape[axis]
		c.check(exec.AddBias{Axis: axis}, x.shape, x, randn(r, n))
		c.check(exec.BiasGrad{Axis: axis}, []int{n}, x)
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
		c.check(exec.Sum{Axes: ax}, out, x)
		dy := randn(r, out...)
		c.check(exec.SumGrad{Axes: ax}, x.shape, dy)
	}
}

func casesSoftmaxAndCopies(c *checker) {
	r := rand.New(rand.NewPCG(1, 5))
	x := randn(r, 13, 300)
	c.check(exec.Softmax{}, x.shape, x)
	y := c.ref(exec.Softmax{}, x.shape, []operand{x}).out
	c.check(exec.SoftmaxGrad{}, x.shape, operand{shape: x.shape, data: y}, randn(r, 13, 300))
	a, b := randn(r, 7, 5), randn(r, 7, 3)
	c.check(exec.Join{Axis: 1}, []int{7, 8}, a, b)
	c.check(exec.Join{Axis: 0}, []int{14, 5}, a, randn(r, 7, 5))
	c.check(exec.Block{Axis: 0, Start: 2, Size: 3}, []int{3, 5}, a)
	c.check(exec.Block{Axis: 1, Start: 1, Size: 3}, []int{7, 3}, a)
	c.check(exec.BlockPad{Axis: 0, Start: 2, Total: 9}, []int{9, 5}, a)
	c.check(exec.BlockPad{Axis: 1, Start: 2, Total: 9}, []int{7, 9}, a)
}

func casesLosses(c *checker) {
	r := rand.New(rand.NewPCG(1, 6))
	l, tg := randn(r, 9, 785), uniform(r, 0, 1, 9, 785)
	c.check(exec.BCEWithLogits{}, []int{9}, l, tg)
	c.check(exec.BCEWithLogitsGrad{}, l.shape, l, tg, randn(r, 9))
	x, labels := randn(r, 11, 67), ints(r, 67, 11)
	st := c.ref(exec.XentStats{}, []int{11, 2}, []operand{x}).out
	c.check(exec.XentStats{}, []int{11, 2}, x)
	stats := operand{shape: []int{11, 2}, data: st}
	c.check(exec.Xent{}, []int{11}, x, labels, stats)
	c.check(exec.XentGrad{}, x.shape, x, labels, stats, randn(r, 11))
}

func casesNorms(c *checker) {
	r := rand.New(rand.NewPCG(1, 8))
	x, gamma, beta := randn(r, 13, 45), randn(r, 45), randn(r, 45)
	op := exec.LayerNormStats{Eps: 1e-5}
	c.check(op, []int{13, 2}, x)
	st := operand{shape: []int{13, 2}, data: c.ref(op, []int{13, 2}, []operand{x}).out}
	dy := randn(r, 13, 45)
	c.check(exec.LayerNorm{}, x.shape, x, gamma, beta, st)
	c.check(exec.LayerNormGradX{}, x.shape, x, gamma, st, dy)
	c.check(exec.LayerNormGradGamma{}, []int{45}, x, st, dy)
	// Rows enough for the column sums to split them among blocks.
	big := randn(r, 700, 45)
	bigSt := operand{shape: []int{700, 2}, data: c.ref(op, []int{700, 2}, []operand{big}).out}
	c.check(exec.LayerNormGradGamma{}, []int{45}, big, bigSt, randn(r, 700, 45))
	c.check(exec.BiasGrad{Axis: 1}, []int{45}, big)

	for _, shape := range [][]int{{6, 5, 7, 3}, {10, 9}} {
		x := randn(r, shape...)
		ch := shape[1]
		rm, rv := randn(r, ch), uniform(r, 0.5, 2, ch)
		bn := exec.BatchNormStats{Momentum: 0.1, Eps: 1e-5}
		c.check(bn, []int{2, ch}, x, rm, rv, operand{shape: []int{1}, data: []float32{3}})
		c.check(exec.BatchNormEvalStats{Eps: 1e-5}, []int{2, ch}, rm, rv)
		st := operand{shape: []int{2, ch}, data: c.ref(bn, []int{2, ch},
			[]operand{x, rm, rv, {shape: []int{1}, data: []float32{0}}}).out}
		w, b, dy := randn(r, ch), randn(r, ch), randn(r, shape...)
		c.check(exec.BatchNorm{}, shape, x, st, w, b)
		c.check(exec.BatchNormSums{}, []int{2, ch}, x, st, dy)
		sums := operand{shape: []int{2, ch}, data: c.ref(exec.BatchNormSums{}, []int{2, ch}, []operand{x, st, dy}).out}
		c.check(exec.BatchNormRow{Row: 1}, []int{ch}, sums)
		c.check(exec.BatchNormInputGrad{Training: false}, shape, x, st, w, dy)
		c.check(exec.BatchNormInputGrad{Training: true}, shape, x, st, w, dy, sums)
	}
}

func casesMatMul(c *checker) {
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
		c.check(exec.MatMul{TransA: tr[0], TransB: tr[1]}, []int{13, 11}, a, b)
		c.check(exec.MatMul{TransA: tr[0], TransB: tr[1], Bias: true,
			Epilogue: []exec.Op{exec.Map{Fn: exec.LeakyReLU, Alpha: 0.2}, exec.Affine{Scale: 2, Shift: 1}}},
			[]int{13, 11}, a, b, randn(r, 11))
	}
}

func casesEmbedding(c *checker) {
	r := rand.New(rand.NewPCG(1, 10))
	w, ids := randn(r, 17, 5), ints(r, 17, 23)
	c.check(exec.Lookup{}, []int{23, 5}, w, ids)
	c.check(exec.LookupGrad{Vocab: 17}, []int{17, 5}, ids, randn(r, 23, 5))
	c.check(exec.CacheWrite{Off: 3}, []int{9, 4}, randn(r, 9, 4), randn(r, 1, 10), operand{shape: []int{1}, data: []float32{6}})
}

func casesAttention(c *checker) {
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
		c.check(exec.AttentionProbs{AttentionShape: a}, pshape, ins...)
		probs := operand{shape: pshape, data: c.ref(exec.AttentionProbs{AttentionShape: a}, pshape, ins).out}
		dy := randn(r, b*a.Tq, dim)
		c.check(exec.AttentionApply{AttentionShape: a}, []int{b * a.Tq, dim}, probs, k)
		c.check(exec.AttentionApplyGradP{AttentionShape: a}, pshape, k, dy)
		c.check(exec.AttentionApplyGradV{AttentionShape: a}, k.shape, probs, dy, k)
		dp := randn(r, pshape...)
		c.check(exec.AttentionProbsGradQ{AttentionShape: a}, q.shape, q, k, probs, dp)
		c.check(exec.AttentionProbsGradK{AttentionShape: a}, k.shape, q, k, probs, dp)
	}
}

func casesLSTM(c *checker) {
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
		c.check(exec.LSTMCell{Fn: fn}, out, ins...)
	}
	xw, whh, h0, c0 := randn(r, steps*b, 4*h), uniform(r, -0.5, 0.5, 4*h, h), randn(r, b, h), randn(r, b, h)
	tshape := []int{steps * b, 6 * h}
	c.check(exec.LSTMSequence{Steps: steps}, tshape, xw, whh, h0, c0)
	tape := operand{shape: tshape, data: c.ref(exec.LSTMSequence{Steps: steps}, tshape, []operand{xw, whh, h0, c0}).out}
	pshape := []int{steps*b + h + b, 4 * h}
	ins := []operand{whh, h0, c0, tape, randn(r, tshape...)}
	c.check(exec.LSTMSequenceGrad{Steps: steps}, pshape, ins...)
	packed := operand{shape: pshape, data: c.ref(exec.LSTMSequenceGrad{Steps: steps}, pshape, ins).out}
	for part, shape := range [][]int{{steps * b, 4 * h}, {4 * h, h}, {b, h}, {b, h}} {
		c.check(exec.LSTMUnpack{Steps: steps, Part: part}, shape, packed)
	}
	for part, shape := range [][]int{{steps * b, h}, {b, h}, {b, h}} {
		c.check(exec.LSTMPick{Steps: steps, Part: part}, shape, tape)
		c.check(exec.LSTMPick{Steps: steps, Part: part, Grad: true}, tshape, randn(r, shape...))
	}
}

func casesElman(c *checker) {
	r := rand.New(rand.NewPCG(1, 13))
	const steps, b, in, h = 5, 3, 7, 6
	x, h0, w, bias := randn(r, steps*b, in), randn(r, b, h), uniform(r, -0.4, 0.4, h, in+h), randn(r, h)
	sshape := []int{(steps + 1) * b, h}
	for _, tanh := range []bool{true, false} {
		op := exec.ElmanSequence{Steps: steps, Tanh: tanh}
		c.check(op, sshape, x, h0, w, bias)
		st := operand{shape: sshape, data: c.ref(op, sshape, []operand{x, h0, w, bias}).out}
		c.check(exec.ElmanSequenceGrad{Steps: steps, Tanh: tanh}, sshape, w, st, randn(r, sshape...))
	}
}

func casesConvAndPool(c *checker) {
	r := rand.New(rand.NewPCG(1, 14))
	for _, g := range []struct{ n, ci, h, w, co, k, stride, pad int }{
		{2, 3, 9, 7, 4, 3, 1, 1}, {3, 2, 11, 10, 5, 4, 2, 1}, {1, 4, 6, 6, 3, 5, 1, 0},
	} {
		x, w := randn(r, g.n, g.ci, g.h, g.w), randn(r, g.co, g.ci, g.k, g.k)
		ho, wo := (g.h+2*g.pad-g.k)/g.stride+1, (g.w+2*g.pad-g.k)/g.stride+1
		yshape := []int{g.n, g.co, ho, wo}
		c.check(exec.Conv2d{Stride: g.stride, Pad: g.pad}, yshape, x, w)
		// The transpose maps y's shape back to x's (the DCGAN's up-sampling), with the
		// weight [Ci, Co, K, K] of its input's channels.
		dy := randn(r, yshape...)
		wt := randn(r, g.co, g.ci, g.k, g.k)
		c.check(exec.ConvTranspose2d{Stride: g.stride, Pad: g.pad, OutH: g.h, OutW: g.w}, x.shape, dy, wt)
		c.check(exec.ConvWeightGrad{Stride: g.stride, Pad: g.pad, K: g.k}, []int{g.co, g.ci, g.k, g.k}, x, dy)
	}
	x := randn(r, 2, 3, 9, 8)
	for _, ks := range [][2]int{{2, 2}, {3, 2}} {
		oh, ow := (9-ks[0])/ks[1]+1, (8-ks[0])/ks[1]+1
		c.check(exec.MaxPool2d{K: ks[0], Stride: ks[1]}, []int{2, 3, oh, ow}, x)
		c.check(exec.MaxPool2dGrad{K: ks[0], Stride: ks[1]}, x.shape, x, randn(r, 2, 3, oh, ow))
	}
}

func casesOptimiser(c *checker) {
	r := rand.New(rand.NewPCG(1, 15))
	g1, g2 := randn(r, 1000), randn(r, 37)
	c.check(exec.SumSquares{}, []int{}, g1, g2)
	normsq := operand{shape: []int{}, data: c.ref(exec.SumSquares{}, []int{}, []operand{g1, g2}).out}
	args := &exec.AdamArgs{LR: 1e-3, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1, StepSize: 1e-3 / (1 - 0.9*0.9),
		InvSqrtBC2: 1 / math.Sqrt(1-0.99*0.99), Clip: 1, AvgRate: 0.9}
	w, m, v := randn(r, 1000), randn(r, 1000), uniform(r, 0, 1, 1000)
	c.check(exec.AdamStep{Args: args}, nil, w, g1, m, v)
	c.check(exec.AdamStep{Args: args, Decay: true, Avg: true, Norm: true}, nil, w, g1, m, v, randn(r, 1000), normsq)
	inf := operand{shape: []int{}, data: []float32{float32(math.Inf(1))}}
	c.check(exec.AdamStep{Args: args, Norm: true}, nil, w, g1, m, v, inf) // nothing moves
	rate := 0.95
	c.check(exec.EMAStep{Rate: &rate}, nil, w, randn(r, 1000))
	c.check(exec.Swap{}, nil, w, randn(r, 1000))
}
