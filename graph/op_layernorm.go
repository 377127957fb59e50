package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// LayerNorm normalises each row of x [N, D] to zero mean and unit variance (the biased
// variance, plus eps, as torch.nn.LayerNorm) and applies the per-feature scale and shift:
// y = (x − μ)/√(σ² + eps)·γ + β. The row statistics are a node of their own, [N, 2] (μ and
// 1/√(σ²+eps)), read by the output and by the gradient.
//
// The gradient with respect to x, with x̂ the normalised row and g = dy·γ:
//
//	dx = (g − mean(g) − x̂·mean(g·x̂)) / √(σ²+eps)
//
// and dγ = Σ_rows dy·x̂, dβ = Σ_rows dy.
func LayerNorm(x, gamma, beta *G.Node, eps float64) *G.Node {
	stats := must(G.ApplyOp(lnStatsOp{eps: eps}, x))
	return must(G.ApplyOp(lnOp{kind: lnForward}, x, gamma, beta, stats))
}

type lnKind int

const (
	lnForward   lnKind = iota // (x, γ, β, stats) → y
	lnGradX                   // (x, γ, stats, dy) → dx
	lnGradGamma               // (x, stats, dy) → dγ
)

// lnStatsOp computes each row's mean and reciprocal standard deviation.
type lnStatsOp struct {
	pure
	eps float64
}

func (op lnStatsOp) spec() exec.Op { return exec.LayerNormStats{Eps: op.eps} }

func (op lnStatsOp) Arity() int    { return 1 }
func (op lnStatsOp) Type() hm.Type { return matrixType(1) }
func (op lnStatsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if ss[0].Dims() != 2 || ss[0][1] == 0 {
		return nil, fmt.Errorf("%v: want [N, D], got %v", op, ss[0])
	}
	return tensor.Shape{ss[0][0], 2}, nil
}
func (op lnStatsOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op lnStatsOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op lnStatsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.LayerNormStats{%v}", op.eps) }
func (op lnStatsOp) Hashcode() uint32      { return hashOf(op) }
func (op lnStatsOp) String() string        { return "LayerNormStats" }

// The statistics are differentiated through the output: lnOp's gradient accounts for them.
func (op lnStatsOp) DiffWRT(int) []bool { return []bool{false} }
func (op lnStatsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v is differentiated through LayerNorm", op)
}

type lnOp struct {
	pure
	kind lnKind
}

func (op lnOp) spec() exec.Op {
	return [...]exec.Op{exec.LayerNorm{}, exec.LayerNormGradX{}, exec.LayerNormGradGamma{}}[op.kind]
}

func (op lnOp) Arity() int {
	if op.kind == lnGradGamma {
		return 3
	}
	return 4
}

func (op lnOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m, v := G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 1, Of: a}
	switch op.kind {
	case lnForward:
		return hm.NewFnType(m, v, v, m, m)
	case lnGradX:
		return hm.NewFnType(m, v, m, m, m)
	}
	return hm.NewFnType(m, m, m, v)
}

func (op lnOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	x := ss[0]
	if x.Dims() != 2 {
		return nil, fmt.Errorf("%v: want x [N, D], got %v", op, x)
	}
	if op.kind != lnGradGamma {
		for _, p := range ss[1:3] {
			if op.kind == lnGradX && p.Dims() == 2 { // the stats
				continue
			}
			if p.TotalSize() != x[1] {
				return nil, fmt.Errorf("%v: scale or shift of shape %v does not fit rows of %d", op, p, x[1])
			}
		}
	}
	if op.kind == lnGradGamma {
		return tensor.Shape{x[1]}, nil
	}
	return x.Clone(), nil
}

func (op lnOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op lnOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}

func (op lnOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.LayerNorm{%d}", op.kind) }
func (op lnOp) Hashcode() uint32      { return hashOf(op) }
func (op lnOp) String() string {
	return [...]string{"LayerNorm", "LayerNormGradX", "LayerNormGradGamma"}[op.kind]
}

func (op lnOp) DiffWRT(int) []bool {
	if op.kind == lnForward {
		return []bool{true, true, true, false}
	}
	return make([]bool, op.Arity())
}

func (op lnOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.kind != lnForward {
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	x, gamma, stats := in[0], in[1], in[3]
	dx, err := G.ApplyOp(lnOp{kind: lnGradX}, x, gamma, stats, grad)
	if err != nil {
		return nil, err
	}
	dgamma, err := G.ApplyOp(lnOp{kind: lnGradGamma}, x, stats, grad)
	if err != nil {
		return nil, err
	}
	dbeta, err := G.ApplyOp(biasGradOp{BiasGrad: exec.BiasGrad{Axis: 1}, dims: 2}, grad)
	return G.Nodes{dx, dgamma, dbeta, nil}, err
}
