package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// convCase is one configuration of scripts/torch/conv_fixture.py: for "conv", x
// [n,cin,h,w] and weight [cout,cin,k,k]; for "conv_transpose", weight [cin,cout,k,k].
// R weighs the output in the loss Σ y⊙R.
type convCase struct {
	Kind                               string
	N, Cin, Cout, H, W, K, Stride, Pad int
	YShape                             []int `json:"y_shape"`
	X, Weight, Bias, R, Y              []float64
	GradX                              []float64 `json:"grad_x"`
	GradWeight                         []float64 `json:"grad_weight"`
	GradBias                           []float64 `json:"grad_bias"`
}

func (c convCase) String() string {
	return fmt.Sprintf("%s n=%d %d→%d %d×%d k=%d s=%d p=%d", c.Kind, c.N, c.Cin, c.Cout, c.H, c.W, c.K, c.Stride, c.Pad)
}

// layer builds the case's layer on parameters of ps's dtype holding the fixture's values.
func (c convCase) layer(ps *Params) (x *Param, forward func(*G.Node) *G.Node) {
	x = ps.New("x", c.N, c.Cin, c.H, c.W)
	setFloats(x.Value, c.X)
	b := ps.New("bias", c.Cout)
	setFloats(b.Value, c.Bias)
	if c.Kind == "conv" {
		w := ps.New("weight", c.Cout, c.Cin, c.K, c.K)
		setFloats(w.Value, c.Weight)
		l := &Conv2D{In: c.Cin, Out: c.Cout, Kernel: c.K, Stride: c.Stride, Pad: c.Pad, Weight: w, Bias: b}
		return x, l.Forward
	}
	w := ps.New("weight", c.Cin, c.Cout, c.K, c.K)
	setFloats(w.Value, c.Weight)
	l := &ConvTranspose2D{In: c.Cin, Out: c.Cout, Kernel: c.K, Stride: c.Stride, Pad: c.Pad, Weight: w, Bias: b}
	return x, l.Forward
}

func loadConvFixture(t *testing.T) []convCase {
	t.Helper()
	b, err := os.ReadFile("testdata/torch_conv.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []convCase }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no cases in testdata/torch_conv.json")
	}
	return f.Cases
}

// Conv2d and ConvTranspose2d with bias, and every gradient, match PyTorch: to 1e-10 in
// float64 and 1e-5 in float32. The program runs twice, so the second run computes into
// the memory the first one left (the machine's preallocated outputs, pooled scratch).
func TestConvMatchesPyTorch(t *testing.T) {
	for _, c := range loadConvFixture(t) {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(c.String()+" "+dt.String(), func(t *testing.T) {
				tol := 1e-10
				if dt == tensor.Float32 {
					tol = 1e-5
				}
				ps := &Params{Dtype: dt}
				x, forward := c.layer(ps)
				g := G.NewGraph()
				var gr *Gradients
				if err := Build(func() {
					y := forward(x.Node(g))
					if !slices.Equal(y.Shape(), c.YShape) {
						t.Fatalf("output shape %v, PyTorch %v", y.Shape(), c.YShape)
					}
					r := Input(g, "R", dt, c.YShape...)
					setFloats(r.Value().(*tensor.Dense), c.R)
					var err error
					if gr, err = CompileGradients(Sum(Mul(y, r)), ps.All(), y); err != nil {
						t.Fatal(err)
					}
				}); err != nil {
					t.Fatal(err)
				}
				defer gr.Close()
				for range 2 {
					if err := gr.Run(); err != nil {
						t.Fatal(err)
					}
				}
				closeTo(t, "y", floats64(gr.Output(1)), c.Y, tol)
				closeTo(t, "grad x", floats64(gr.Output(2)), c.GradX, tol)
				closeTo(t, "grad bias", floats64(gr.Output(3)), c.GradBias, tol)
				closeTo(t, "grad weight", floats64(gr.Output(4)), c.GradWeight, tol)
			})
		}
	}
}

// convConfigs are the gradient-check configurations: DCGAN's stride 2, pad 1, K 4 (exact
// tiling and not), a classifier's K 3, pad 1, stride 1, a stride past the kernel, a
// single image.
var convConfigs = []struct{ n, cin, cout, h, w, k, stride, pad int }{
	{2, 3, 2, 8, 8, 4, 2, 1},
	{2, 2, 3, 7, 7, 4, 2, 1},
	{2, 2, 3, 6, 5, 3, 1, 1},
	{2, 3, 2, 7, 6, 2, 3, 0},
	{1, 2, 2, 5, 5, 3, 2, 2},
}

func TestGradConv2d(t *testing.T) {
	for i, c := range convConfigs {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			ps := params64()
			x := randParam(ps, "x", 1, uint64(10+i), c.n, c.cin, c.h, c.w)
			w := randParam(ps, "w", 0.5, uint64(20+i), c.cout, c.cin, c.k, c.k)
			gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return Conv2d(x.Node(g), w.Node(g), c.stride, c.pad) })
		})
	}
}

func TestGradConvTranspose2d(t *testing.T) {
	for i, c := range convConfigs {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			h, w := min(c.h, 4), min(c.w, 4) // the output is about stride times larger
			ps := params64()
			x := randParam(ps, "x", 1, uint64(30+i), c.n, c.cin, h, w)
			wt := randParam(ps, "w", 0.5, uint64(40+i), c.cin, c.cout, c.k, c.k)
			gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
				return ConvTranspose2d(x.Node(g), wt.Node(g), c.stride, c.pad)
			})
		})
	}
}

func TestGradConvLayers(t *testing.T) {
	t.Run("Conv2D", func(t *testing.T) {
		ps := params64()
		x := randParam(ps, "x", 1, 50, 2, 3, 7, 7)
		conv := NewConv2D(ps, "conv", 3, 4, 4, 2, 1, rng.New(51))
		gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return conv.Forward(x.Node(g)) })
	})
	t.Run("ConvTranspose2D", func(t *testing.T) {
		ps := params64()
		x := randParam(ps, "x", 1, 52, 2, 3, 3, 4)
		conv := NewConvTranspose2D(ps, "deconv", 3, 2, 4, 2, 1, rng.New(53))
		gradCheck(t, ps, func(g *G.ExprGraph) *G.Node { return conv.Forward(x.Node(g)) })
	})
}

// A DCGAN in miniature: the generator reshapes a linear layer's output into images, the
// discriminator flattens its feature maps for a linear layer. Gradients flow through both
// reshapes (LeakyReLU's gradient reads its output, which the flattening reshape shares).
func TestGradReshape(t *testing.T) {
	t.Run("generator", func(t *testing.T) {
		ps := params64()
		z := randParam(ps, "z", 1, 60, 2, 3)
		fc := NewLinear(ps, "fc", 3, 2*3*3, rng.New(61))
		up := NewConvTranspose2D(ps, "up", 2, 1, 4, 2, 1, rng.New(62))
		gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
			h := Reshape(LeakyReLU(fc.Forward(z.Node(g)), 0.2), 2, 2, 3, 3)
			return Tanh(up.Forward(h))
		})
	})
	t.Run("discriminator", func(t *testing.T) {
		ps := params64()
		x := randParam(ps, "x", 1, 63, 2, 1, 7, 7)
		conv := NewConv2D(ps, "conv", 1, 2, 4, 2, 1, rng.New(64))
		fc := NewLinear(ps, "fc", 2*3*3, 1, rng.New(65))
		gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
			h := LeakyReLU(conv.Forward(x.Node(g)), 0.2)
			return fc.Forward(Reshape(h, 2, 2*3*3))
		})
	})
}

// The same miniature DCGAN in float32, with real images fed flat as [N, H·W], run
// repeatedly: the reshapes must neither change the parameters or inputs (values or
// shapes) nor make runs differ.
func TestReshapeRunsAreRepeatable(t *testing.T) {
	r := rng.New(70)
	ps := NewParams()
	fc := NewLinear(ps, "g.fc", 3, 4*3*3, r)
	up := NewConvTranspose2D(ps, "g.up", 4, 1, 4, 2, 1, r)
	conv := NewConv2D(ps, "d.conv", 1, 4, 4, 2, 1, r)
	head := NewLinear(ps, "d.fc", 4*3*3, 1, r)
	disc := func(img *G.Node) *G.Node {
		return head.Forward(Reshape(LeakyReLU(conv.Forward(img), 0.2), 5, 4*3*3))
	}
	g := G.NewGraph()
	var realImgs *G.Node
	var gr *Gradients
	if err := Build(func() {
		z := Input(g, "z", tensor.Float32, 5, 3)
		rng.New(71).FillNormal(Buffer(z))
		realImgs = Input(g, "real", tensor.Float32, 5, 36)
		rng.New(72).FillUniform(Buffer(realImgs), -1, 1)
		img := Tanh(up.Forward(Reshape(ReLU(fc.Forward(z)), 5, 4, 3, 3)))
		loss := Add(Mean(disc(img)), Mean(disc(Reshape(realImgs, 5, 1, 6, 6))))
		var err error
		if gr, err = CompileGradients(loss, ps.All(), img); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer gr.Close()
	realData := slices.Clone(Buffer(realImgs))
	before := map[string][]float32{}
	shapes := map[string][]int{}
	for _, p := range ps.All() {
		before[p.Name] = slices.Clone(p.Data())
		shapes[p.Name] = slices.Clone(p.Shape())
	}
	var first [][]float32
	for run := range 4 {
		if err := gr.Run(); err != nil {
			t.Fatal(err)
		}
		outs := [][]float32{{float32(gr.Float(0))}, slices.Clone(gr.Floats(1))}
		for _, gd := range gr.Grads() {
			outs = append(outs, slices.Clone(gd))
		}
		if run == 0 {
			first = outs
			continue
		}
		for i := range outs {
			if !slices.Equal(outs[i], first[i]) {
				t.Fatalf("run %d: output %d differs from the first run", run, i)
			}
		}
	}
	if !slices.Equal(gr.Output(1).Shape(), tensor.Shape{5, 1, 6, 6}) {
		t.Fatalf("image shape %v", gr.Output(1).Shape())
	}
	for _, p := range ps.All() {
		if !slices.Equal(before[p.Name], p.Data()) || !slices.Equal(shapes[p.Name], p.Shape()) {
			t.Fatalf("running the program changed parameter %s (shape %v)", p.Name, p.Shape())
		}
	}
	if v := realImgs.Value().(*tensor.Dense); !slices.Equal(v.Shape(), tensor.Shape{5, 36}) || !slices.Equal(Buffer(realImgs), realData) {
		t.Fatalf("running the program changed its input (shape %v)", v.Shape())
	}
}

// naiveConv2d is the definition: y[n,o,p,q] = Σ_{c,i,j} x[n,c,p·s−pad+i,q·s−pad+j]·w[o,c,i,j].
func naiveConv2d(x, w []float64, n, c, h, wd, o, k, s, pad int) (y []float64, ho, wo int) {
	ho, wo = (h+2*pad-k)/s+1, (wd+2*pad-k)/s+1
	y = make([]float64, n*o*ho*wo)
	for b := range n {
		for oc := range o {
			for p := range ho {
				for q := range wo {
					var sum float64
					for ic := range c {
						for i := range k {
							for j := range k {
								ih, iw := p*s-pad+i, q*s-pad+j
								if ih >= 0 && ih < h && iw >= 0 && iw < wd {
									sum += x[((b*c+ic)*h+ih)*wd+iw] * w[((oc*c+ic)*k+i)*k+j]
								}
							}
						}
					}
					y[((b*o+oc)*ho+p)*wo+q] = sum
				}
			}
		}
	}
	return y, ho, wo
}

// naiveConvTranspose2d scatters: y[n,co,p·s−pad+i,q·s−pad+j] += x[n,ci,p,q]·w[ci,co,i,j].
func naiveConvTranspose2d(x, w []float64, n, ci, h, wd, co, k, s, pad, ho, wo int) []float64 {
	y := make([]float64, n*co*ho*wo)
	for b := range n {
		for ic := range ci {
			for p := range h {
				for q := range wd {
					for oc := range co {
						for i := range k {
							for j := range k {
								oh, ow := p*s-pad+i, q*s-pad+j
								if oh >= 0 && oh < ho && ow >= 0 && ow < wo {
									y[((b*co+oc)*ho+oh)*wo+ow] += x[((b*ci+ic)*h+p)*wd+q] * w[((ic*co+oc)*k+i)*k+j]
								}
							}
						}
					}
				}
			}
		}
	}
	return y
}

// naiveWeightGrad: dw[cb,ca,i,j] = Σ b[n,cb,p,q]·a[n,ca,p·s−pad+i,q·s−pad+j].
func naiveWeightGrad(a, bv []float64, n, ca, h, wd, cb, k, s, pad int) []float64 {
	ho, wo := (h+2*pad-k)/s+1, (wd+2*pad-k)/s+1
	dw := make([]float64, cb*ca*k*k)
	for b := range n {
		for oc := range cb {
			for ic := range ca {
				for i := range k {
					for j := range k {
						for p := range ho {
							for q := range wo {
								ih, iw := p*s-pad+i, q*s-pad+j
								if ih >= 0 && ih < h && iw >= 0 && iw < wd {
									dw[((oc*ca+ic)*k+i)*k+j] += bv[((b*cb+oc)*ho+p)*wo+q] * a[((b*ca+ic)*h+ih)*wd+iw]
								}
							}
						}
					}
				}
			}
		}
	}
	return dw
}

func convRandTensor(r *rng.RNG, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
	for i, d := 0, t.Data().([]float64); i < len(d); i++ {
		d[i] = r.NormFloat64()
	}
	return t
}

// convNaNs returns a tensor of the given shape filled with NaN, as a prealloc that an Op
// must overwrite entirely.
func convNaNs(shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
	for i, d := 0, t.Data().([]float64); i < len(d); i++ {
		d[i] = math.NaN()
	}
	return t
}

// The three Ops agree with the definitions over many shapes: kernels larger than the
// stride and smaller, padding up to K, kernels as large as the padded image, rectangular
// images, batches of 1 (which skip the batch permutation) and more, and preallocated
// outputs full of NaN.
func TestConvOpsMatchDefinition(t *testing.T) {
	r := rng.New(80)
	cases := 0
	for _, n := range []int{1, 3} {
		for _, k := range []int{1, 2, 3, 4, 5} {
			for _, s := range []int{1, 2, 3} {
				for pad := 0; pad <= k; pad++ {
					for _, hw := range [][2]int{{5, 7}, {6, 4}, {2, 3}} {
						h, wd := hw[0], hw[1]
						if h+2*pad < k || wd+2*pad < k {
							continue
						}
						cases++
						c, o := 2, 3
						name := fmt.Sprintf("n=%d k=%d s=%d pad=%d %d×%d", n, k, s, pad, h, wd)
						x := convRandTensor(r, n, c, h, wd)
						w := convRandTensor(r, o, c, k, k)
						want, ho, wo := naiveConv2d(x.Data().([]float64), w.Data().([]float64), n, c, h, wd, o, k, s, pad)
						y, err := conv2dOp{stride: s, pad: pad}.UsePreallocDo(convNaNs(n, o, ho, wo), x, w)
						if err != nil {
							t.Fatal(name, err)
						}
						closeTo(t, "conv "+name, y.(*tensor.Dense).Data().([]float64), want, 1e-12)

						// The transpose of a conv of this geometry maps y's shape back to x's.
						dy := convRandTensor(r, n, o, ho, wo)
						want = naiveConvTranspose2d(dy.Data().([]float64), w.Data().([]float64), n, o, ho, wo, c, k, s, pad, h, wd)
						dx, err := convTransposeOp{stride: s, pad: pad, outH: h, outW: wd}.UsePreallocDo(convNaNs(n, c, h, wd), dy, w)
						if err != nil {
							t.Fatal(name, err)
						}
						closeTo(t, "conv transpose "+name, dx.(*tensor.Dense).Data().([]float64), want, 1e-12)

						want = naiveWeightGrad(x.Data().([]float64), dy.Data().([]float64), n, c, h, wd, o, k, s, pad)
						dw, err := convWeightGradOp{stride: s, pad: pad, k: k}.UsePreallocDo(convNaNs(o, c, k, k), x, dy)
						if err != nil {
							t.Fatal(name, err)
						}
						closeTo(t, "weight grad "+name, dw.(*tensor.Dense).Data().([]float64), want, 1e-12)
					}
				}
			}
		}
	}
	if cases < 50 {
		t.Fatalf("only %d cases", cases)
	}
}

// Graph building reports shapes that do not fit, through Build.
func TestConvShapeErrors(t *testing.T) {
	for name, f := range map[string]func(g *G.ExprGraph){
		"channels": func(g *G.ExprGraph) {
			Conv2d(Input(g, "x", tensor.Float32, 2, 3, 8, 8), Input(g, "w", tensor.Float32, 4, 2, 3, 3), 1, 1)
		},
		"kernel too large": func(g *G.ExprGraph) {
			Conv2d(Input(g, "x", tensor.Float32, 2, 3, 4, 4), Input(g, "w", tensor.Float32, 4, 3, 7, 7), 1, 1)
		},
		"not square": func(g *G.ExprGraph) {
			Conv2d(Input(g, "x", tensor.Float32, 2, 3, 8, 8), Input(g, "w", tensor.Float32, 4, 3, 3, 2), 1, 1)
		},
		"stride 0": func(g *G.ExprGraph) {
			Conv2d(Input(g, "x", tensor.Float32, 2, 3, 8, 8), Input(g, "w", tensor.Float32, 4, 3, 3, 3), 0, 1)
		},
		"not 4-D": func(g *G.ExprGraph) {
			Conv2d(Input(g, "x", tensor.Float32, 3, 8, 8), Input(g, "w", tensor.Float32, 4, 3, 3, 3), 1, 1)
		},
		"transpose channels": func(g *G.ExprGraph) {
			ConvTranspose2d(Input(g, "x", tensor.Float32, 2, 3, 4, 4), Input(g, "w", tensor.Float32, 4, 3, 4, 4), 2, 1)
		},
		"transpose empty output": func(g *G.ExprGraph) {
			ConvTranspose2d(Input(g, "x", tensor.Float32, 2, 3, 1, 1), Input(g, "w", tensor.Float32, 3, 3, 2, 2), 1, 1)
		},
	} {
		if err := Build(func() { f(G.NewGraph()) }); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// Gorgonia merges nodes whose Op hashes and inputs agree, so every attribute must change
// the hash.
func TestConvHashes(t *testing.T) {
	ops := []interface{ Hashcode() uint32 }{
		conv2dOp{stride: 1, pad: 1}, conv2dOp{stride: 2, pad: 1}, conv2dOp{stride: 1, pad: 2},
		convTransposeOp{stride: 2, pad: 1}, convTransposeOp{stride: 1, pad: 2},
		convTransposeOp{stride: 2, pad: 1, outH: 7, outW: 7}, convTransposeOp{stride: 2, pad: 1, outH: 7, outW: 6},
		convWeightGradOp{stride: 2, pad: 1, k: 4}, convWeightGradOp{stride: 2, pad: 1, k: 3},
		convWeightGradOp{stride: 1, pad: 1, k: 4},
	}
	seen := map[uint32]int{}
	for i, op := range ops {
		if j, ok := seen[op.Hashcode()]; ok {
			t.Errorf("ops %d (%v) and %d (%v) hash alike", i, op, j, ops[j])
		}
		seen[op.Hashcode()] = i
	}
}

// Program.FLOPs counts a convolution's 2·N·O·Ho·Wo·C·K·K, and its two gradients as much
// again each.
func TestConvFLOPs(t *testing.T) {
	const n, c, o, h, k, s, pad = 4, 3, 5, 9, 4, 2, 1
	const ho = (h+2*pad-k)/s + 1
	const fwd = 2 * n * o * ho * ho * c * k * k
	ps := NewParams()
	conv := NewConv2D(ps, "conv", c, o, k, s, pad, rng.New(90))
	g := G.NewGraph()
	var prog *Program
	var gr *Gradients
	if err := Build(func() {
		x := Input(g, "x", tensor.Float32, n, c, h, h)
		y := conv.Forward(x)
		var err error
		if prog, err = Compile(y); err != nil {
			t.Fatal(err)
		}
		if gr, err = CompileGradients(Mean(y), ps.All()); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	defer gr.Close()
	if got := prog.FLOPs(); got != fwd {
		t.Errorf("forward FLOPs %d, want %d", got, fwd)
	}
	// Differentiating with respect to the parameters only: forward and weight gradient.
	if got := gr.FLOPs(); got != 2*fwd {
		t.Errorf("forward and backward FLOPs %d, want %d", got, 2*fwd)
	}

	ps2 := NewParams()
	up := NewConvTranspose2D(ps2, "up", o, c, k, s, pad, rng.New(91))
	x2 := ps2.New("x", n, o, ho, ho)
	g2 := G.NewGraph()
	var gr2 *Gradients
	if err := Build(func() {
		var err error
		if gr2, err = CompileGradients(Mean(up.Forward(x2.Node(g2))), ps2.All()); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer gr2.Close()
	if got := gr2.FLOPs(); got != 3*fwd {
		t.Errorf("transposed convolution with both gradients: FLOPs %d, want %d", got, 3*fwd)
	}
}

// The layers have PyTorch's names, shapes and default initialisation bounds.
func TestConvLayerInit(t *testing.T) {
	ps := NewParams()
	conv := NewConv2D(ps, "disc.0", 3, 8, 4, 2, 1, rng.New(1))
	up := NewConvTranspose2D(ps, "gen.1", 8, 2, 4, 2, 1, rng.New(2))
	for _, c := range []struct {
		p     *Param
		name  string
		shape []int
		bound float64
	}{
		{conv.Weight, "disc.0.weight", []int{8, 3, 4, 4}, 1 / math.Sqrt(3*4*4)},
		{conv.Bias, "disc.0.bias", []int{8}, 1 / math.Sqrt(3*4*4)},
		{up.Weight, "gen.1.weight", []int{8, 2, 4, 4}, 1 / math.Sqrt(2*4*4)},
		{up.Bias, "gen.1.bias", []int{2}, 1 / math.Sqrt(2*4*4)},
	} {
		if c.p.Name != c.name || !slices.Equal(c.p.Shape(), c.shape) {
			t.Errorf("parameter %s %v, want %s %v", c.p.Name, c.p.Shape(), c.name, c.shape)
		}
		var maxAbs float64
		for _, v := range c.p.Data() {
			maxAbs = max(maxAbs, math.Abs(float64(v)))
		}
		if maxAbs > c.bound || (len(c.p.Data()) >= 64 && maxAbs < 0.8*c.bound) {
			t.Errorf("%s: largest |value| %g for bound %g", c.name, maxAbs, c.bound)
		}
	}
}

// BenchmarkConv2dStep times forward and backward (input and weight gradients) of a DCGAN
// discriminator's second layer, 64 images 64×14×14 → 128×7×7 with K 4, stride 2, pad 1,
// with LeakyReLU, reporting the achieved GFLOP/s of its convolutions.
func BenchmarkConv2dStep(b *testing.B) {
	benchConv(b, func(ps *Params, r *rng.RNG) (layer func(*G.Node) *G.Node, in []int) {
		return NewConv2D(ps, "conv", 64, 128, 4, 2, 1, r).Forward, []int{64, 64, 14, 14}
	})
}

// BenchmarkConvTranspose2dStep times a DCGAN generator's layer, 64 images 128×7×7 →
// 64×14×14, the adjoint of BenchmarkConv2dStep's.
func BenchmarkConvTranspose2dStep(b *testing.B) {
	benchConv(b, func(ps *Params, r *rng.RNG) (layer func(*G.Node) *G.Node, in []int) {
		return NewConvTranspose2D(ps, "up", 128, 64, 4, 2, 1, r).Forward, []int{64, 128, 7, 7}
	})
}

func benchConv(b *testing.B, build func(ps *Params, r *rng.RNG) (func(*G.Node) *G.Node, []int)) {
	ps := NewParams()
	r := rng.New(1)
	layer, in := build(ps, r)
	x := ps.New("x", in...) // a parameter, so that the input gradient is computed too
	r.FillNormal(x.Data())
	g := G.NewGraph()
	var gr *Gradients
	if err := Build(func() {
		var err error
		if gr, err = CompileGradients(Mean(LeakyReLU(layer(x.Node(g)), 0.2)), ps.All()); err != nil {
			b.Fatal(err)
		}
	}); err != nil {
		b.Fatal(err)
	}
	defer gr.Close()
	b.ResetTimer()
	for range b.N {
		if err := gr.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(gr.FLOPs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
