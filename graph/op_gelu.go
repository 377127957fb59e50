package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GELU returns x·Φ(x), Φ the standard normal distribution function: torch.nn.GELU's exact
// form (nanoGPT's), not the tanh approximation. Its derivative Φ(x) + x·φ(x) needs x, so
// the gradient reads the input rather than the output.
func GELU(x *G.Node) *G.Node { return must(G.ApplyOp(geluOp{}, x)) }

type geluOp struct {
	pure
	grad bool // (x, dy) → dx
}

func (op geluOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op geluOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	if op.grad {
		return hm.NewFnType(a, a, a)
	}
	return hm.NewFnType(a, a)
}
func (op geluOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op geluOp) Do(vs ...G.Value) (G.Value, error)                 { return op.UsePreallocDo(nil, vs...) }
func (op geluOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	x := ts[0]
	y := output(prealloc, x.Dtype(), x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		gelu(op.grad, y.Float32s(), float32s(ts)...)
	case tensor.Float64:
		gelu(op.grad, y.Float64s(), float64s(ts)...)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
}
func (op geluOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.GELU{%v}", op.grad) }
func (op geluOp) Hashcode() uint32      { return hashOf(op) }
func (op geluOp) String() string {
	if op.grad {
		return "GELUGrad"
	}
	return "GELU"
}
func (op geluOp) DiffWRT(int) []bool { return []bool{!op.grad, false}[:op.Arity()] }
func (op geluOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	dx, err := G.ApplyOp(geluOp{grad: true}, in[0], grad)
	return G.Nodes{dx}, err
}

func gelu[T float](grad bool, y []T, in ...[]T) {
	x := in[0]
	fast := isFloat32[T]()
	parallelFor(len(x), 1<<13, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			var cdf, pdf float64
			if fast {
				cdf, pdf = normalCDFPDF32(v)
			} else {
				cdf = 0.5 * (1 + math.Erf(v/math.Sqrt2))
				pdf = math.Exp(-0.5*v*v) / math.Sqrt(2*math.Pi)
			}
			if !grad {
				y[i] = T(v * cdf)
				continue
			}
			y[i] = in[1][i] * T(cdf+v*pdf)
		}
	})
}

// normalCDFPDF32 returns Φ(x) and φ(x) to about 1e-7, float32's resolution, from one fast
// exponential: erf by Abramowitz & Stegun 7.1.26 (error below 1.5e-7), whose factor
// e^(−z²) with z = x/√2 is φ's e^(−x²/2). GELU spent a third of a GPT step in math.Erf.
func normalCDFPDF32(x float64) (cdf, pdf float64) {
	z := math.Abs(x) / math.Sqrt2
	e := expNeg32(-z * z)
	t := 1 / (1 + 0.3275911*z)
	poly := t * (0.254829592 + t*(-0.284496736+t*(1.421413741+t*(-1.453152027+t*1.061405429))))
	erf := 1 - poly*e
	if x < 0 {
		erf = -erf
	}
	return 0.5 * (1 + erf), e / math.Sqrt(2*math.Pi)
}
