//go:build cgo

package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/aigc-go/aigc/graph/cpu/simd"
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/internal/rng"
)

// kernelCase is one instruction to run through a kind's reference and fast kernels.
type kernelCase struct {
	name    string
	op      exec.Op
	out     []int   // the output's shape (nil: the op updates its inputs)
	in      [][]int // the inputs' shapes
	fill    func(i int, x []float32, r *rng.RNG)
	tol     float64 // relative to the output's largest magnitude
	outputs []int   // inputs the op updates in place, compared too
}

// normal fills x with N(0, 2²) samples: logits, activations and gradients of every sign,
// some in the tails of the functions.
func normal(_ int, x []float32, r *rng.RNG) {
	for i := range x {
		x[i] = float32(2 * r.NormFloat64())
	}
}

func kernelCases() []kernelCase {
	labels := func(k int) func(int, []float32, *rng.RNG) {
		return func(i int, x []float32, r *rng.RNG) {
			if i == 1 {
				for j := range x {
					x[j] = float32(r.IntN(k))
				}
				return
			}
			normal(i, x, r)
		}
	}
	positive := func(i int, x []float32, r *rng.RNG) { // BCE targets and the stats' rstd
		for j := range x {
			x[j] = float32(r.Float64())
		}
	}
	bce := func(i int, x []float32, r *rng.RNG) {
		if i == 1 {
			positive(i, x, r)
			return
		}
		normal(i, x, r)
	}
	lnStats := func(i int, x []float32, r *rng.RNG) {
		normal(i, x, r)
		if len(x)%2 == 0 && i == 2 { // (x, γ, stats, dy) and (x, stats, dy): rstd > 0
			for j := 1; j < len(x); j += 2 {
				x[j] = 0.5 + float32(r.Float64())
			}
		}
	}
	var cases []kernelCase
	for _, fn := range []exec.MapFn{exec.ReLU, exec.LeakyReLU, exec.Tanh, exec.Sigmoid, exec.Exp, exec.Square} {
		cases = append(cases,
			kernelCase{name: fn.String(), op: exec.Map{Fn: fn, Alpha: 0.2}, out: []int{70001}, in: [][]int{{70001}}, fill: normal, tol: 3e-7},
			kernelCase{name: fn.String() + "Grad", op: exec.MapGrad{Fn: fn, Alpha: 0.2}, out: []int{70001}, in: [][]int{{70001}, {70001}}, fill: normal, tol: 3e-7})
	}
	attn := exec.AttentionShape{Heads: 4, Dim: 32, Tq: 9, Tk: 9, KOff: 32, VOff: 64, Causal: true}
	masked := attn
	masked.Causal, masked.Masked = false, true
	mask := func(i int, x []float32, r *rng.RNG) {
		normal(i, x, r)
		if i == 2 {
			for j := range x {
				x[j] = float32(r.IntN(2))
			}
			x[0] = 1
		}
	}
	probs := func(i int, x []float32, r *rng.RNG) {
		normal(i, x, r)
		if i == 2 { // probabilities: rows summing to 1
			for j := range x {
				x[j] = float32(r.Float64())
			}
		}
	}
	adamArgs := &exec.AdamArgs{LR: 1e-3, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1, StepSize: 1e-3 / 0.1,
		InvSqrtBC2: 1 / math.Sqrt(0.01), Clip: 1, AvgRate: 0.99}
	adamFill := func(i int, x []float32, r *rng.RNG) {
		normal(i, x, r)
		if i == 3 { // the second moment is positive
			for j := range x {
				x[j] = x[j] * x[j]
			}
		}
		if len(x) == 1 {
			x[0] = 4 // the squared norm: clipping scales by 1/2
		}
	}
	cases = append(cases,
		kernelCase{name: "Add", op: exec.Add{}, out: []int{50000}, in: [][]int{{50000}, {50000}}, fill: normal, tol: 1e-7},
		kernelCase{name: "Sub", op: exec.Sub{}, out: []int{50000}, in: [][]int{{50000}, {50000}}, fill: normal, tol: 1e-7},
		kernelCase{name: "Mul", op: exec.Mul{}, out: []int{50000}, in: [][]int{{50000}, {50000}}, fill: normal, tol: 1e-7},
		kernelCase{name: "Affine", op: exec.Affine{Scale: -0.3, Shift: 2}, out: []int{50000}, in: [][]int{{50000}}, fill: normal, tol: 3e-7},
		kernelCase{name: "AddBiasRows", op: exec.AddBias{Axis: 1}, out: []int{300, 77}, in: [][]int{{300, 77}, {77}}, fill: normal, tol: 1e-7},
		kernelCase{name: "AddBiasPlanes", op: exec.AddBias{Axis: 1}, out: []int{5, 6, 7, 7}, in: [][]int{{5, 6, 7, 7}, {6}}, fill: normal, tol: 1e-7},
		kernelCase{name: "BiasGrad", op: exec.BiasGrad{Axis: 1}, out: []int{300}, in: [][]int{{2000, 300}}, fill: normal, tol: 1e-6},
		kernelCase{name: "BCEWithLogits", op: exec.BCEWithLogits{}, out: []int{64}, in: [][]int{{64, 784}, {64, 784}}, fill: bce, tol: 1e-6},
		kernelCase{name: "BCEWithLogitsGrad", op: exec.BCEWithLogitsGrad{}, out: []int{64, 300}, in: [][]int{{64, 300}, {64, 300}, {64}}, fill: bce, tol: 3e-7},
		kernelCase{name: "XentStats", op: exec.XentStats{}, out: []int{700, 2}, in: [][]int{{700, 65}}, fill: normal, tol: 3e-7},
		kernelCase{name: "XentGrad", op: exec.XentGrad{}, out: []int{700, 65}, in: [][]int{{700, 65}, {700}, {700, 2}, {700}}, fill: labels(65),
			tol: 1e-6},
		kernelCase{name: "GELU", op: exec.GELU{}, out: []int{60000}, in: [][]int{{60000}}, fill: normal, tol: 5e-7},
		kernelCase{name: "GELUGrad", op: exec.GELUGrad{}, out: []int{60000}, in: [][]int{{60000}, {60000}}, fill: normal, tol: 5e-7},
		kernelCase{name: "LayerNormStats", op: exec.LayerNormStats{Eps: 1e-5}, out: []int{300, 2}, in: [][]int{{300, 130}}, fill: normal, tol: 3e-7},
		kernelCase{name: "LayerNorm", op: exec.LayerNorm{}, out: []int{300, 130}, in: [][]int{{300, 130}, {130}, {130}, {300, 2}}, fill: lnStats3, tol: 3e-7},
		kernelCase{name: "LayerNormGradX", op: exec.LayerNormGradX{}, out: []int{300, 130}, in: [][]int{{300, 130}, {130}, {300, 2}, {300, 130}}, fill: lnStats, tol: 1e-6},
		kernelCase{name: "LayerNormGradGamma", op: exec.LayerNormGradGamma{}, out: []int{130}, in: [][]int{{300, 130}, {300, 2}, {300, 130}}, fill: lnStats1, tol: 1e-6},
		kernelCase{name: "AttentionProbs", op: exec.AttentionProbs{AttentionShape: attn}, out: []int{3 * 4 * 9, 9}, in: [][]int{{27, 96}, {27, 96}}, fill: normal, tol: 3e-7},
		kernelCase{name: "AttentionProbsMasked", op: exec.AttentionProbs{AttentionShape: masked}, out: []int{3 * 4 * 9, 9}, in: [][]int{{27, 96}, {27, 96}, {3, 9}}, fill: mask, tol: 3e-7},
		kernelCase{name: "AttentionProbsGradQ", op: exec.AttentionProbsGradQ{AttentionShape: attn}, out: []int{27, 96}, in: [][]int{{27, 96}, {27, 96}, {108, 9}, {108, 9}}, fill: probs, tol: 1e-6},
		kernelCase{name: "AttentionProbsGradK", op: exec.AttentionProbsGradK{AttentionShape: attn}, out: []int{27, 96}, in: [][]int{{27, 96}, {27, 96}, {108, 9}, {108, 9}}, fill: probs, tol: 1e-6},
		kernelCase{name: "LSTMSequence", op: exec.LSTMSequence{Steps: 5}, out: []int{5 * 3, 6 * 8}, in: [][]int{{15, 32}, {32, 8}, {3, 8}, {3, 8}}, fill: normal, tol: 1e-6},
		kernelCase{name: "ElmanSequence", op: exec.ElmanSequence{Steps: 5, Tanh: true}, out: []int{6 * 3, 8}, in: [][]int{{15, 4}, {3, 8}, {8, 12}, {8}}, fill: normal, tol: 1e-6},
		kernelCase{name: "ElmanSequenceGrad", op: exec.ElmanSequenceGrad{Steps: 5, Tanh: true}, out: []int{6 * 3, 8}, in: [][]int{{8, 12}, {18, 8}, {18, 8}}, fill: normal, tol: 1e-6},
		kernelCase{name: "SumSquares", op: exec.SumSquares{}, out: []int{}, in: [][]int{{3000}, {70}}, fill: normal, tol: 1e-6},
		kernelCase{name: "AdamStep", op: exec.AdamStep{Args: adamArgs, Decay: true, Avg: true, Norm: true}, in: [][]int{{40000}, {40000}, {40000}, {40000}, {40000}, {}},
			fill: adamFill, tol: 1e-6, outputs: []int{0, 2, 3, 4}},
		kernelCase{name: "EMAStep", op: exec.EMAStep{Rate: new(float64)}, in: [][]int{{40000}, {40000}}, fill: normal, tol: 1e-7, outputs: []int{1}},
	)
	lstmGrad := kernelCase{name: "LSTMSequenceGrad", op: exec.LSTMSequenceGrad{Steps: 5}, out: []int{15 + 8 + 3, 32},
		in: [][]int{{32, 8}, {3, 8}, {3, 8}, {15, 48}, {15, 48}}, fill: lstmTape, tol: 1e-6}
	return append(cases, lstmGrad)
}

// lnStats3 and lnStats1 fill layer normalisation's inputs with valid statistics at the
// input index where they are.
func lnStats3(i int, x []float32, r *rng.RNG) { statsAt(3, i, x, r) }
func lnStats1(i int, x []float32, r *rng.RNG) { statsAt(1, i, x, r) }

func statsAt(at, i int, x []float32, r *rng.RNG) {
	normal(i, x, r)
	if i == at {
		for j := 1; j < len(x); j += 2 {
			x[j] = 0.5 + float32(r.Float64())
		}
	}
}

// lstmTape fills an LSTM tape with the values a forward pass could give: activated gates
// in their ranges.
func lstmTape(i int, x []float32, r *rng.RNG) {
	normal(i, x, r)
	if i != 3 {
		return
	}
	h := 8
	for row := 0; row < len(x)/(6*h); row++ {
		t := x[row*6*h : (row+1)*6*h]
		for j := range h {
			t[2*h+j] = float32(r.Float64()) // i
			t[3*h+j] = float32(r.Float64()) // f
			t[4*h+j] = float32(2*r.Float64() - 1)
			t[5*h+j] = float32(r.Float64()) // o
		}
	}
}

// runKernel runs k on a copy of the inputs and returns the output and the updated inputs.
func runKernel(t *testing.T, k exec.Kernel, c kernelCase, ins [][]float32) ([]float32, [][]float32) {
	t.Helper()
	var ops []exec.Operand
	copies := make([][]float32, len(ins))
	for i, x := range ins {
		copies[i] = append([]float32(nil), x...)
		ops = append(ops, exec.Operand{DType: exec.Float32, Shape: c.in[i], Buf: Mem{F32: copies[i]}})
	}
	var out exec.Operand
	var y []float32
	if c.out != nil {
		y = make([]float32, exec.Size(c.out))
		out = exec.Operand{DType: exec.Float32, Shape: c.out, Buf: Mem{F32: y}}
	}
	if err := exec.RunOnce(Device, k, c.op, out, ops); err != nil {
		t.Fatal(err)
	}
	return y, copies
}

// Every fast kernel computes what its reference kernel does, to float32 rounding, on
// every instruction set this processor has.
func TestFastKernelsMatchReference(t *testing.T) {
	levels := []string{"AVX-512", "AVX2", "SSE2"}
	defer simd.Use("AVX-512")
	for _, level := range levels {
		if got := simd.Use(level); got != level {
			continue // the processor lacks it
		}
		for _, c := range kernelCases() {
			t.Run(level+"/"+c.name, func(t *testing.T) {
				r := rng.New(5)
				ins := make([][]float32, len(c.in))
				for i, s := range c.in {
					ins[i] = make([]float32, exec.Size(s))
					c.fill(i, ins[i], r)
				}
				fast := fast[c.op.Kind()]
				if fast == nil {
					t.Fatalf("no fast kernel for %s", c.op.Kind())
				}
				if a, ok := c.op.(exec.EMAStep); ok {
					*a.Rate = 0.9
				}
				wantY, wantIn := runKernel(t, Reference(c.op.Kind(), exec.Float32), c, ins)
				gotY, gotIn := runKernel(t, fast, c, ins)
				compareRel(t, "output", gotY, wantY, c.tol)
				for _, i := range c.outputs {
					compareRel(t, fmt.Sprintf("input %d", i), gotIn[i], wantIn[i], c.tol)
				}
			})
		}
	}
}

// compareRel fails unless got and want agree to tol relative to want's largest magnitude.
func compareRel(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol*max(scale, 1e-30)) {
			t.Fatalf("%s[%d] = %.9g, reference %.9g (|diff| %.3g, scale %.3g)", what, i, got[i], want[i], d, scale)
		}
	}
}

// The vectorised elementary functions against float64, across their ranges and at the
// special values.
func TestVectorMathAccuracy(t *testing.T) {
	n := 200001
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-100 + 200*float64(i)/float64(n-1))
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, float32(math.Inf(1)), float32(math.Inf(-1)))
	y := make([]float32, len(x))
	check := func(name string, fn exec.MapFn, f func(float64) float64, rel, abs float64) {
		simd.Map(int(fn), 0, y, x)
		for i, v := range x {
			want := f(float64(v))
			if d := math.Abs(float64(y[i]) - want); d > rel*math.Abs(want)+abs || math.IsNaN(float64(y[i])) != math.IsNaN(want) {
				if w32 := float64(float32(want)); math.IsInf(w32, 0) && float64(y[i]) == w32 {
					continue // beyond float32's range
				}
				t.Fatalf("%s(%g) = %g, want %g", name, v, y[i], want)
			}
		}
	}
	check("exp", exec.Exp, math.Exp, 3e-7, 1e-37)
	check("tanh", exec.Tanh, math.Tanh, 3e-7, 0)
	check("sigmoid", exec.Sigmoid, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }, 3e-7, 1e-37)

	nan := []float32{float32(math.NaN())}
	out := []float32{0}
	for _, fn := range []exec.MapFn{exec.Exp, exec.Tanh, exec.Sigmoid} {
		simd.Map(int(fn), 0, out, nan)
		if !math.IsNaN(float64(out[0])) {
			t.Errorf("%v(NaN) = %g", fn, out[0])
		}
	}
	simd.GELU(out, nan)
	if !math.IsNaN(float64(out[0])) {
		t.Errorf("GELU(NaN) = %g", out[0])
	}

	// GELU and its derivative over the range where they are not 0 or x.
	g, dg := make([]float32, n), make([]float32, n)
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
		x[i] = float32(-12 + 24*float64(i)/float64(n-1))
	}
	simd.GELU(g, x[:n])
	simd.GELUGrad(dg, x[:n], ones)
	for i, v := range x[:n] {
		xv := float64(v)
		cdf := 0.5 * math.Erfc(-xv/math.Sqrt2)
		pdf := math.Exp(-0.5*xv*xv) / math.Sqrt(2*math.Pi)
		if d := math.Abs(float64(g[i]) - xv*cdf); d > 1e-6*math.Abs(xv*cdf)+1e-37 {
			t.Fatalf("GELU(%g) = %g, want %g", v, g[i], xv*cdf)
		}
		if d := math.Abs(float64(dg[i]) - (cdf + xv*pdf)); d > 1e-6*math.Abs(cdf+xv*pdf)+1e-7 {
			t.Fatalf("GELU'(%g) = %g, want %g", v, dg[i], cdf+xv*pdf)
		}
	}

	// BCE's log1p(e^−|x|) through a row of one: softplus(x) − t·x with t = 0.
	for _, v := range []float32{-90, -30, -17, -5, -0.3, 0, 1e-6, 0.7, 5, 17, 30, 90} {
		out := []float32{0}
		simd.BCERows(out, []float32{v}, []float32{0}, 1)
		want := math.Max(float64(v), 0) + math.Log1p(math.Exp(-math.Abs(float64(v))))
		if d := math.Abs(float64(out[0]) - want); d > 3e-7*want+1e-37 {
			t.Errorf("softplus(%g) = %g, want %g", v, out[0], want)
		}
	}
}
