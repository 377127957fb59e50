package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The LSTM cell (torch.nn.LSTM's equations) on the pre-activation gates a = [a_i a_f a_g
// a_o] (one [B, 4H] matrix product per layer and step, PyTorch's gate order):
//
//	i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)
//	c = f⊙c_prev + i⊙g                       LSTMCell(a, c_prev)
//	h = o⊙tanh(c)                            LSTMHidden(a, c)
//
// Two fused Ops instead of a dozen element-wise ones: each reads the gates it needs and
// recomputes their activations in the backward pass rather than storing them.

// LSTMCell returns the new cell state c = σ(a_f)⊙cPrev + σ(a_i)⊙tanh(a_g), [B, H].
func LSTMCell(gates, cPrev *G.Node) *G.Node {
	return must(G.ApplyOp(lstmOp{kind: lstmC}, gates, cPrev))
}

// LSTMHidden returns the new hidden state h = σ(a_o)⊙tanh(c), [B, H].
func LSTMHidden(gates, c *G.Node) *G.Node {
	return must(G.ApplyOp(lstmOp{kind: lstmH}, gates, c))
}

type lstmKind int

const (
	lstmC          lstmKind = iota // (a, c_prev) → c
	lstmH                          // (a, c) → h
	lstmCGradGates                 // (a, c_prev, dc) → da (i, f, g parts)
	lstmCGradPrev                  // (a, dc) → dc_prev = f⊙dc
	lstmHGradGates                 // (a, c, dh) → da (o part)
	lstmHGradC                     // (a, c, dh) → dc = o⊙(1 − tanh²c)⊙dh
)

var lstmNames = [...]string{"LSTMCell", "LSTMHidden", "LSTMCellGradGates", "LSTMCellGradPrev",
	"LSTMHiddenGradGates", "LSTMHiddenGradC"}

type lstmOp struct {
	pure
	kind lstmKind
}

func (op lstmOp) Arity() int {
	switch op.kind {
	case lstmCGradGates, lstmHGradGates, lstmHGradC:
		return 3
	}
	return 2
}

// gatesOut reports whether the op's output has the gates' shape [B, 4H] (else [B, H]).
func (op lstmOp) gatesOut() bool { return op.kind == lstmCGradGates || op.kind == lstmHGradGates }

func (op lstmOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	ts := make([]hm.Type, op.Arity()+1)
	for i := range ts {
		ts[i] = m
	}
	return hm.NewFnType(ts...)
}

func (op lstmOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	a := ss[0]
	if a.Dims() != 2 || a[1]%4 != 0 || a[1] == 0 {
		return nil, fmt.Errorf("%v: gates must be [B, 4H], got %v", op, a)
	}
	state := tensor.Shape{a[0], a[1] / 4}
	for _, s := range ss[1:] {
		if !s.Eq(state) {
			return nil, fmt.Errorf("%v: state of shape %v does not fit gates %v (want %v)", op, s, a, state)
		}
	}
	if op.gatesOut() {
		return a.Clone(), nil
	}
	return state, nil
}

func (op lstmOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op lstmOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	a := ts[0]
	b, h := a.Shape()[0], a.Shape()[1]/4
	shape := tensor.Shape{b, h}
	if op.gatesOut() {
		shape = tensor.Shape{b, 4 * h}
	}
	y := output(prealloc, a.Dtype(), shape)
	switch a.Dtype() {
	case tensor.Float32:
		lstmRun(op.kind, y.Float32s(), h, float32s(ts)...)
	case tensor.Float64:
		lstmRun(op.kind, y.Float64s(), h, float64s(ts)...)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, a.Dtype())
	}
	return y, nil
}

func float32s(ts []*tensor.Dense) [][]float32 {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		out[i] = t.Float32s()
	}
	return out
}

func float64s(ts []*tensor.Dense) [][]float64 {
	out := make([][]float64, len(ts))
	for i, t := range ts {
		out[i] = t.Float64s()
	}
	return out
}

func (op lstmOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.%s", op) }
func (op lstmOp) Hashcode() uint32      { return hashOf(op) }
func (op lstmOp) String() string        { return lstmNames[op.kind] }

func (op lstmOp) DiffWRT(int) []bool {
	if op.kind == lstmC || op.kind == lstmH {
		return []bool{true, true}
	}
	return make([]bool, op.Arity()) // gradients are not differentiated again
}

func (op lstmOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	apply := func(k lstmKind, ns ...*G.Node) (*G.Node, error) { return G.ApplyOp(lstmOp{kind: k}, ns...) }
	var d0, d1 *G.Node
	var err error
	switch op.kind {
	case lstmC:
		if d0, err = apply(lstmCGradGates, in[0], in[1], grad); err == nil {
			d1, err = apply(lstmCGradPrev, in[0], grad)
		}
	case lstmH:
		if d0, err = apply(lstmHGradGates, in[0], in[1], grad); err == nil {
			d1, err = apply(lstmHGradC, in[0], in[1], grad)
		}
	default:
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	return G.Nodes{d0, d1}, err
}

// lstmRun computes one of the cell's functions over B rows of H units; in are the op's
// inputs (the gates first, [B, 4H], then [B, H] states and gradients).
func lstmRun[T float](kind lstmKind, y []T, h int, in ...[]T) {
	a := in[0]
	rows := len(a) / (4 * h)
	parallelFor(rows, max(1, 4096/h), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ar := a[r*4*h : (r+1)*4*h]
			s := r * h
			for j := range h {
				ai, af, ag, ao := float64(ar[j]), float64(ar[h+j]), float64(ar[2*h+j]), float64(ar[3*h+j])
				switch kind {
				case lstmC:
					y[s+j] = T(sigmoid64(af)*float64(in[1][s+j]) + sigmoid64(ai)*math.Tanh(ag))
				case lstmH:
					y[s+j] = T(sigmoid64(ao) * math.Tanh(float64(in[1][s+j])))
				case lstmCGradGates:
					i, f, g := sigmoid64(ai), sigmoid64(af), math.Tanh(ag)
					dc, cp := float64(in[2][s+j]), float64(in[1][s+j])
					yr := y[r*4*h : (r+1)*4*h]
					yr[j] = T(dc * g * i * (1 - i))
					yr[h+j] = T(dc * cp * f * (1 - f))
					yr[2*h+j] = T(dc * i * (1 - g*g))
					yr[3*h+j] = 0
				case lstmCGradPrev:
					y[s+j] = T(sigmoid64(af) * float64(in[1][s+j]))
				case lstmHGradGates:
					o, tc, dh := sigmoid64(ao), math.Tanh(float64(in[1][s+j])), float64(in[2][s+j])
					yr := y[r*4*h : (r+1)*4*h]
					yr[j], yr[h+j], yr[2*h+j] = 0, 0, 0
					yr[3*h+j] = T(dh * tc * o * (1 - o))
				case lstmHGradC:
					o, tc, dh := sigmoid64(ao), math.Tanh(float64(in[1][s+j])), float64(in[2][s+j])
					y[s+j] = T(dh * o * (1 - tc*tc))
				}
			}
		}
	})
}
