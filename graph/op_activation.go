package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// activation is an elementwise nonlinearity whose derivative can be written in terms of
// its output y alone, so the backward pass needs no copy of the input.
type activation struct {
	name  string
	f     func(x, alpha float64) float64
	deriv func(y, alpha float64) float64 // f'(x) expressed through y = f(x)
}

var (
	relu = activation{"ReLU",
		func(x, _ float64) float64 { return max(x, 0) },
		func(y, _ float64) float64 { return step(y > 0) }}
	// leakyReLU's derivative reads the sign of y, which is the sign of x for alpha > 0.
	leakyReLU = activation{"LeakyReLU",
		func(x, a float64) float64 { return max(x, 0) + a*min(x, 0) },
		func(y, a float64) float64 { return step(y > 0) + a*step(y <= 0) }}
	tanh = activation{"Tanh",
		func(x, _ float64) float64 { return math.Tanh(x) },
		func(y, _ float64) float64 { return 1 - y*y }}
	sigmoid = activation{"Sigmoid",
		func(x, _ float64) float64 { return sigmoid64(x) },
		func(y, _ float64) float64 { return y * (1 - y) }}
)

func step(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sigmoid64 is 1/(1+e^-x) without overflow for large |x|.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// ReLU returns max(x, 0).
func ReLU(x *G.Node) *G.Node { return applyActivation(relu, 0, x) }

// LeakyReLU returns x for x > 0 and alpha·x otherwise (alpha > 0).
func LeakyReLU(x *G.Node, alpha float64) *G.Node { return applyActivation(leakyReLU, alpha, x) }

// Tanh returns tanh(x).
func Tanh(x *G.Node) *G.Node { return applyActivation(tanh, 0, x) }

// Sigmoid returns 1/(1+e^-x).
func Sigmoid(x *G.Node) *G.Node { return applyActivation(sigmoid, 0, x) }

func applyActivation(a activation, alpha float64, x *G.Node) *G.Node {
	return must(G.ApplyOp(activationOp{act: a, alpha: alpha}, x))
}

type activationOp struct {
	pure
	act   activation
	alpha float64
}

func (op activationOp) Arity() int { return 1 }
func (op activationOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op activationOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op activationOp) Do(vs ...G.Value) (G.Value, error)                 { return op.UsePreallocDo(nil, vs...) }
func (op activationOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	x := ts[0]
	y := output(prealloc, x.Dtype(), x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		mapInto(op.act, y.Data().([]float32), x.Data().([]float32), op.alpha)
	case tensor.Float64:
		mapInto(op.act, y.Data().([]float64), x.Data().([]float64), op.alpha)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
}
func (op activationOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.%s{%v}", op.act.name, op.alpha) }
func (op activationOp) Hashcode() uint32      { return hashOf(op) }
func (op activationOp) String() string {
	if op.act.name == leakyReLU.name {
		return fmt.Sprintf("%s{%v}", op.act.name, op.alpha)
	}
	return op.act.name
}
func (op activationOp) DiffWRT(int) []bool { return []bool{true} }
func (op activationOp) SymDiff(_ G.Nodes, y, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(activationGradOp{fwd: op}, y, grad)
	return G.Nodes{dx}, err
}

// activationGradOp computes dx = dy · f'(x) from (y, dy).
type activationGradOp struct {
	pure
	fwd activationOp
}

func (op activationGradOp) Arity() int { return 2 }
func (op activationGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op activationGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return sameShape(ds) }
func (op activationGradOp) Do(vs ...G.Value) (G.Value, error)                 { return op.UsePreallocDo(nil, vs...) }
func (op activationGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	y, dy := ts[0], ts[1]
	dx := output(prealloc, y.Dtype(), y.Shape())
	switch y.Dtype() {
	case tensor.Float32:
		gradInto(op.fwd.act, dx.Data().([]float32), y.Data().([]float32), dy.Data().([]float32), op.fwd.alpha)
	case tensor.Float64:
		gradInto(op.fwd.act, dx.Data().([]float64), y.Data().([]float64), dy.Data().([]float64), op.fwd.alpha)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, y.Dtype())
	}
	return dx, nil
}
func (op activationGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.%sGrad{%v}", op.fwd.act.name, op.fwd.alpha)
}
func (op activationGradOp) Hashcode() uint32 { return hashOf(op) }
func (op activationGradOp) String() string   { return op.fwd.String() + "Grad" }

// mapInto computes y = f(x). The piecewise-linear activations, the common case between
// layers, get loops of their own: a function call per element costs more than they do.
func mapInto[T float](act activation, y, x []T, alpha float64) {
	a := T(alpha)
	parallelFor(len(x), 1<<14, func(lo, hi int) {
		switch act.name {
		case relu.name:
			for i := lo; i < hi; i++ {
				y[i] = max(x[i], 0)
			}
		case leakyReLU.name:
			for i := lo; i < hi; i++ {
				if v := x[i]; v > 0 {
					y[i] = v
				} else {
					y[i] = a * v
				}
			}
		default:
			for i := lo; i < hi; i++ {
				y[i] = T(act.f(float64(x[i]), alpha))
			}
		}
	})
}

// gradInto computes dx = dy · f'(x) from y = f(x), with the same fast paths.
func gradInto[T float](act activation, dx, y, dy []T, alpha float64) {
	a := T(alpha)
	parallelFor(len(y), 1<<14, func(lo, hi int) {
		switch act.name {
		case relu.name:
			for i := lo; i < hi; i++ {
				if y[i] > 0 {
					dx[i] = dy[i]
				} else {
					dx[i] = 0
				}
			}
		case leakyReLU.name:
			for i := lo; i < hi; i++ {
				if y[i] > 0 {
					dx[i] = dy[i]
				} else {
					dx[i] = a * dy[i]
				}
			}
		default:
			for i := lo; i < hi; i++ {
				dx[i] = dy[i] * T(act.deriv(float64(y[i]), alpha))
			}
		}
	})
}
