package graph

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// normFixture holds what scripts/torch/norm_fixture.py computed with PyTorch
// (testdata/torch_norm.json).
type normFixture struct {
	BatchNorm2d bnFixture `json:"batchnorm2d"`
	BatchNorm1d bnFixture `json:"batchnorm1d"`
	MaxPool     []struct {
		Shape          []int
		Kernel, Stride int
		X, R, Y        []float64
		GradX          []float64 `json:"grad_x"`
	}
	Xent []struct {
		Shape                 []int
		Logits, W, Loss, Grad []float64
		Labels                []int
	}
}

type bnFixture struct {
	Shape     []int
	EvalShape []int `json:"eval_shape"`
	Momentum  float64
	Eps       float64
	X, R      []float64
	XEval     []float64 `json:"x_eval"`
	REval     []float64 `json:"r_eval"`
	Weight    []float64
	Bias      []float64
	Start     struct {
		RunningMean []float64 `json:"running_mean"`
		RunningVar  []float64 `json:"running_var"`
	}
	StateKeys []string `json:"state_keys"`
	Train     bnResult
	Eval      bnResult
}

type bnResult struct {
	Y                 []float64
	GradX             []float64 `json:"grad_x"`
	GradWeight        []float64 `json:"grad_weight"`
	GradBias          []float64 `json:"grad_bias"`
	RunningMean       []float64 `json:"running_mean"`
	RunningVar        []float64 `json:"running_var"`
	NumBatchesTracked float64   `json:"num_batches_tracked"`
}

func loadNorm(t testing.TB) *normFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/torch_norm.json")
	if err != nil {
		t.Fatal(err)
	}
	var f normFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// normTol is the agreement with PyTorch's float64 results expected of each dtype.
func normTol(dt tensor.Dtype) float64 {
	if dt == tensor.Float32 {
		return 1e-5
	}
	return 1e-10
}

// bnCount reads a scalar (or one-element) float tensor such as num_batches_tracked.
func bnCount(t *tensor.Dense) float64 {
	if t.Dtype() == tensor.Float32 {
		return float64(t.Float32s()[0])
	}
	return t.Float64s()[0]
}

// normInput adds an input of either dtype holding float64 values.
func normInput(g *G.ExprGraph, name string, dt tensor.Dtype, data []float64, shape ...int) *G.Node {
	n := Input(g, name, dt, shape...)
	setFloats(n.Value().(*tensor.Dense), data)
	return n
}

// compileNorm compiles loss with its gradients, failing the test on error.
func compileNorm(t testing.TB, build func() (*G.Node, []*Param, []*G.Node)) *Gradients {
	t.Helper()
	var gr *Gradients
	if err := Build(func() {
		loss, params, report := build()
		var err error
		if gr, err = CompileGradients(loss, params, report...); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return gr
}

func randomBatchNorm(ps *Params, c int, seed uint64) *BatchNorm {
	bn := NewBatchNorm(ps, "bn", c)
	r := rng.New(seed)
	Normal(bn.Weight, 1, 0.5, r)
	Normal(bn.Bias, 0, 0.5, r)
	return bn
}

func TestGradBatchNormTrain(t *testing.T) {
	for name, shape := range map[string][]int{"2d": {6, 4}, "4d": {3, 2, 3, 4}} {
		t.Run(name, func(t *testing.T) {
			ps := params64()
			x := randParam(ps, "x", 2, 21, shape...)
			bn := randomBatchNorm(ps, shape[1], 22)
			gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return bn.Forward(x.Node(g), true) })
		})
	}
}

func TestGradBatchNormEval(t *testing.T) {
	for name, shape := range map[string][]int{"2d": {5, 3}, "4d": {2, 3, 2, 3}} {
		t.Run(name, func(t *testing.T) {
			ps := params64()
			x := randParam(ps, "x", 2, 23, shape...)
			bn := randomBatchNorm(ps, shape[1], 24)
			Normal(bn.RunningMean, 0, 1, rng.New(25))
			Uniform(bn.RunningVar, 1, rng.New(26))
			for i, d := 0, bn.RunningVar.Value.Float64s(); i < len(d); i++ {
				d[i] += 1.5
			}
			gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return bn.Forward(x.Node(g), false) })
		})
	}
}

// bnChannelStats returns the mean and the unbiased variance of each channel of x [n, c, inner].
func bnChannelStats(x []float64, n, c, inner int) (mean, unbiased []float64) {
	m := float64(n * inner)
	mean, unbiased = make([]float64, c), make([]float64, c)
	for ch := range c {
		for i := range n {
			for _, v := range x[(i*c+ch)*inner : (i*c+ch+1)*inner] {
				mean[ch] += v
			}
		}
		mean[ch] /= m
		for i := range n {
			for _, v := range x[(i*c+ch)*inner : (i*c+ch+1)*inner] {
				unbiased[ch] += (v - mean[ch]) * (v - mean[ch])
			}
		}
		unbiased[ch] /= m - 1
	}
	return mean, unbiased
}

// Each Run in training mode folds the batch statistics into the running ones, and counts.
func TestBatchNormRunningStatistics(t *testing.T) {
	const n, c, inner = 4, 3, 6
	ps := params64()
	bn := randomBatchNorm(ps, c, 31)
	bn.Momentum = 0.25
	g := G.NewGraph()
	var x *G.Node
	var prog *Program
	if err := Build(func() {
		x = Input(g, "x", tensor.Float64, n, c, 2, 3)
		var err error
		if prog, err = Compile(bn.Forward(x, true)); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	wantMean, wantVar := make([]float64, c), []float64{1, 1, 1}
	r := rng.New(32)
	for step := range 2 {
		data := x.Value().Data().([]float64)
		for i := range data {
			data[i] = 3*r.NormFloat64() + float64(i%c) + float64(step)
		}
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		mean, unbiased := bnChannelStats(data, n, c, inner)
		for ch := range c {
			wantMean[ch] = 0.75*wantMean[ch] + 0.25*mean[ch]
			wantVar[ch] = 0.75*wantVar[ch] + 0.25*unbiased[ch]
		}
		closeTo(t, "running_mean", bn.RunningMean.Value.Float64s(), wantMean, 1e-12)
		closeTo(t, "running_var", bn.RunningVar.Value.Float64s(), wantVar, 1e-12)
		if got := bnCount(bn.NumBatches.Value); got != float64(step+1) {
			t.Fatalf("num_batches_tracked = %v after %d runs", got, step+1)
		}
	}
}

// Two applications of one BatchNorm in one graph (a discriminator on real and generated
// batches): each normalises with its own batch, both update the running statistics, in the
// order they were built, and the gradients of the shared weight and bias add up.
func TestBatchNormTwoApplications(t *testing.T) {
	const c = 3
	ps := params64()
	a := randParam(ps, "a", 2, 41, 4, c, 2, 2)
	b := randParam(ps, "b", 1, 42, 4, c, 2, 2)
	bn := randomBatchNorm(ps, c, 43)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		return Add(bn.Forward(a.Node(g), true), bn.Forward(b.Node(g), true))
	})

	// The statistics after one Run, from fresh buffers, fold in the batches in the order
	// the applications were built, whatever their depth in the graph: b's goes through two
	// Tanh nodes first, like a generator's output.
	deep := make([]float64, b.Value.Size())
	for i, v := range b.Value.Float64s() {
		deep[i] = math.Tanh(math.Tanh(v))
	}
	for _, order := range []string{"aba", "baa", "aab", "aBa", "aaB"} { // B: b's Tanh nodes built first
		Fill(bn.RunningMean, 0)
		Fill(bn.RunningVar, 1)
		bn.NumBatches.Value.Float64s()[0] = 0 // Fill leaves scalars alone
		g := G.NewGraph()
		var ys []*G.Node
		var prog *Program
		if err := Build(func() {
			var early *G.Node
			if strings.Contains(order, "B") {
				early = Tanh(Tanh(b.Node(g)))
			}
			for _, in := range strings.ToLower(order) {
				switch {
				case in == 'a': // the same input twice is two applications
					ys = append(ys, bn.Forward(a.Node(g), true))
				case early != nil:
					ys = append(ys, bn.Forward(early, true))
				default:
					ys = append(ys, bn.Forward(Tanh(Tanh(b.Node(g))), true))
				}
			}
			var err error
			if prog, err = Compile(ys...); err != nil {
				t.Fatal(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		wantMean, wantVar := make([]float64, c), []float64{1, 1, 1}
		for _, in := range strings.ToLower(order) {
			x := a.Value.Float64s()
			if in == 'b' {
				x = deep
			}
			mean, unbiased := bnChannelStats(x, 4, c, 4)
			for ch := range c {
				wantMean[ch] = 0.9*wantMean[ch] + 0.1*mean[ch]
				wantVar[ch] = 0.9*wantVar[ch] + 0.1*unbiased[ch]
			}
		}
		closeTo(t, order+" running_mean", bn.RunningMean.Value.Float64s(), wantMean, 1e-12)
		closeTo(t, order+" running_var", bn.RunningVar.Value.Float64s(), wantVar, 1e-12)
		if got := bnCount(bn.NumBatches.Value); got != 3 {
			t.Fatalf("%s: num_batches_tracked = %v after one run of three applications", order, got)
		}
		first := strings.IndexByte(order, 'a')
		second := first + 1 + strings.IndexByte(order[first+1:], 'a')
		closeTo(t, order+" second application of a", prog.Output(second).Float64s(), prog.Output(first).Float64s(), 1e-15)
		prog.Close()
	}
}

// A GAN's discriminator step: D with two batch-normalised layers applied to a real batch
// and then to a generator's output, differentiated. Each layer's running statistics fold in
// the real batch, then the generated one, as PyTorch's D(real); D(fake) would.
func TestBatchNormDiscriminatorStep(t *testing.T) {
	const n = 6
	r := rng.New(81)
	ps := params64()
	gen := NewLinear(ps, "gen.fc", 3, 6, r)
	genBN := randomBatchNorm(&Params{Dtype: tensor.Float64}, 6, 82)
	fc1, fc2 := NewLinear(ps, "disc.fc1", 6, 5, r), NewLinear(ps, "disc.fc2", 5, 4, r)
	bn1, bn2 := NewBatchNorm(ps, "disc.bn1", 5), NewBatchNorm(ps, "disc.bn2", 4)
	real := randParam(ps, "real", 1, 83, n, 6)
	z := randParam(ps, "z", 1, 84, n, 3)
	g := G.NewGraph()
	var h1, h2 []*G.Node // the inputs of bn1 and bn2: real, then fake
	disc := func(x *G.Node) *G.Node {
		a := fc1.Forward(x)
		b := fc2.Forward(LeakyReLU(bn1.Forward(a, true), 0.2))
		h1, h2 = append(h1, a), append(h2, b)
		return bn2.Forward(b, true)
	}
	gr := compileNorm(t, func() (*G.Node, []*Param, []*G.Node) {
		dReal := disc(real.Node(g))
		dFake := disc(Tanh(genBN.Forward(gen.Forward(z.Node(g)), true)))
		loss := Add(Sum(Mul(dReal, Scalar(dReal, 0.3))), Sum(Mul(dFake, dFake)))
		return loss, ps.Prefixed("disc."), []*G.Node{h1[0], h1[1], h2[0], h2[1]}
	})
	defer gr.Close()
	if err := gr.Run(); err != nil {
		t.Fatal(err)
	}
	for i, bn := range []*BatchNorm{bn1, bn2} {
		wantMean, wantVar := make([]float64, bn.C), make([]float64, bn.C)
		for ch := range bn.C {
			wantVar[ch] = 1
		}
		for batch := range 2 {
			mean, unbiased := bnChannelStats(gr.Output(1+2*i+batch).Float64s(), n, bn.C, 1)
			for ch := range bn.C {
				wantMean[ch] = 0.9*wantMean[ch] + 0.1*mean[ch]
				wantVar[ch] = 0.9*wantVar[ch] + 0.1*unbiased[ch]
			}
		}
		closeTo(t, bn.Weight.Name+" running_mean", bn.RunningMean.Value.Float64s(), wantMean, 1e-12)
		closeTo(t, bn.Weight.Name+" running_var", bn.RunningVar.Value.Float64s(), wantVar, 1e-12)
		if got := bnCount(bn.NumBatches.Value); got != 2 {
			t.Fatalf("%s: num_batches_tracked = %v", bn.Weight.Name, got)
		}
	}
	if got := bnCount(genBN.NumBatches.Value); got != 1 {
		t.Fatalf("generator's num_batches_tracked = %v", got)
	}
}

func TestBatchNormNamesAndShapeErrors(t *testing.T) {
	ps := NewParams()
	bn := NewBatchNorm(ps, "disc.bn1", 8)
	var names []string
	for _, p := range ps.State() {
		names = append(names, p.Name)
	}
	want := "disc.bn1.weight disc.bn1.bias disc.bn1.running_mean disc.bn1.running_var disc.bn1.num_batches_tracked"
	if strings.Join(names, " ") != want {
		t.Fatalf("state %v, want %s", names, want)
	}
	if len(ps.All()) != 2 || bn.NumBatches.Value.Dims() != 0 || bn.NumBatches.Value.Dtype() != tensor.Float32 {
		t.Fatalf("trained %d, num_batches_tracked shape %v %v", len(ps.All()), bn.NumBatches.Shape(), bn.NumBatches.Value.Dtype())
	}
	if bn.Weight.Data()[3] != 1 || bn.RunningVar.Data()[7] != 1 || bn.Bias.Data()[0] != 0 || bn.RunningMean.Data()[0] != 0 {
		t.Fatal("BatchNorm not initialised as PyTorch does")
	}
	for name, shape := range map[string][]int{
		"wrong channels": {4, 7, 3, 3},
		"3-D input":      {4, 8, 3},
		"one value":      {1, 8},
	} {
		g := G.NewGraph()
		err := Build(func() { bn.Forward(Input(g, "x", tensor.Float32, shape...), true) })
		if err == nil || !strings.Contains(err.Error(), "BatchNorm") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// Both of norm_fixture.py's modules, in train mode then eval mode, in float64 and float32.
func TestBatchNormMatchesPyTorch(t *testing.T) {
	f := loadNorm(t)
	for name, fx := range map[string]bnFixture{"BatchNorm2d": f.BatchNorm2d, "BatchNorm1d": f.BatchNorm1d} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(name+"/"+dt.String(), func(t *testing.T) { checkBatchNorm(t, fx, dt) })
		}
	}
}

func checkBatchNorm(t *testing.T, fx bnFixture, dt tensor.Dtype) {
	tol := normTol(dt)
	c := fx.Shape[1]
	ps := &Params{Dtype: dt}
	bn := NewBatchNorm(ps, "bn", c)
	for i, p := range ps.State() {
		if p.Name != "bn."+fx.StateKeys[i] {
			t.Fatalf("state %d is %s, PyTorch's is %s", i, p.Name, fx.StateKeys[i])
		}
	}
	bn.Momentum, bn.Eps = fx.Momentum, fx.Eps
	setFloats(bn.Weight.Value, fx.Weight)
	setFloats(bn.Bias.Value, fx.Bias)
	setFloats(bn.RunningMean.Value, fx.Start.RunningMean)
	setFloats(bn.RunningVar.Value, fx.Start.RunningVar)

	step := func(x []float64, r []float64, shape []int, training bool, want bnResult) {
		xp := (&Params{Dtype: dt}).New("x", shape...)
		setFloats(xp.Value, x)
		g := G.NewGraph()
		gr := compileNorm(t, func() (*G.Node, []*Param, []*G.Node) {
			y := bn.Forward(xp.Node(g), training)
			return Sum(Mul(y, normInput(g, "r", dt, r, shape...))), []*Param{xp, bn.Weight, bn.Bias}, []*G.Node{y}
		})
		defer gr.Close()
		if err := gr.Run(); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "y", floats64(gr.Output(1)), want.Y, tol)
		closeTo(t, "grad x", floats64(gr.Output(2)), want.GradX, tol)
		closeTo(t, "grad weight", floats64(gr.Output(3)), want.GradWeight, tol)
		closeTo(t, "grad bias", floats64(gr.Output(4)), want.GradBias, tol)
	}
	step(fx.X, fx.R, fx.Shape, true, fx.Train)
	closeTo(t, "running_mean", floats64(bn.RunningMean.Value), fx.Train.RunningMean, tol)
	closeTo(t, "running_var", floats64(bn.RunningVar.Value), fx.Train.RunningVar, tol)
	if got := bnCount(bn.NumBatches.Value); got != fx.Train.NumBatchesTracked {
		t.Fatalf("num_batches_tracked %v, PyTorch %v", got, fx.Train.NumBatchesTracked)
	}
	step(fx.XEval, fx.REval, fx.EvalShape, false, fx.Eval)
	if got := bnCount(bn.NumBatches.Value); got != fx.Train.NumBatchesTracked {
		t.Fatalf("evaluation counted a batch: num_batches_tracked %v", got)
	}
}

// BenchmarkBatchNorm2dStep times forward and backward (gradients of x, weight and bias) of
// training-mode batch normalisation on a DCGAN-sized activation, [64, 64, 14, 14] float32.
func BenchmarkBatchNorm2dStep(b *testing.B) {
	shape := []int{64, 64, 14, 14}
	ps := NewParams()
	x := ps.New("x", shape...)
	rng.New(1).FillNormal(x.Data())
	bn := NewBatchNorm(ps, "bn", shape[1])
	g := G.NewGraph()
	gr := compileNorm(b, func() (*G.Node, []*Param, []*G.Node) {
		r := Input(g, "r", tensor.Float32, shape...)
		rng.New(2).FillNormal(Buffer(r))
		return Sum(Mul(bn.Forward(x.Node(g), true), r)), ps.All(), nil
	})
	defer gr.Close()
	b.ResetTimer()
	for range b.N {
		if err := gr.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatchNorm2dOps times the batch normalisation Ops alone, without the loss around
// them: the forward (statistics and normalisation) and the backward (sums and dx).
func BenchmarkBatchNorm2dOps(b *testing.B) {
	shape := tensor.Shape{64, 64, 14, 14}
	x := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	dy := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	rng.New(1).FillNormal(x.Float32s())
	rng.New(2).FillNormal(dy.Float32s())
	ps := NewParams()
	bn := NewBatchNorm(ps, "bn", 64)
	stats := bnStatsOp{dims: 4, momentum: 0.1, eps: 1e-5, runMean: bn.RunningMean.Value, runVar: bn.RunningVar.Value, batches: bn.NumBatches.Value}
	var st, y, sums, dx G.Value
	b.ResetTimer()
	for range b.N {
		var err error
		if st, err = stats.UsePreallocDo(st, x); err != nil {
			b.Fatal(err)
		}
		if y, err = (bnOp{dims: 4, training: true}).UsePreallocDo(y, x, st, bn.Weight.Value, bn.Bias.Value); err != nil {
			b.Fatal(err)
		}
		if sums, err = (bnSumsOp{dims: 4}).UsePreallocDo(sums, x, st, dy); err != nil {
			b.Fatal(err)
		}
		if dx, err = (bnInputGradOp{dims: 4, training: true}).UsePreallocDo(dx, x, st, bn.Weight.Value, dy, sums); err != nil {
			b.Fatal(err)
		}
	}
}
