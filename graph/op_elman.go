package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// ElmanSequence runs the Elman recurrence of a Linear layer w, b on [x_t; h_{t−1}]:
//
//	h_t = act(w·[x_t; h_{t−1}] + b) = act(x_t·W_xᵀ + h_{t−1}·W_hᵀ + b)     w = [W_x W_h]
//
// over a window in one Op, act being tanh or (tanh false) the identity. x holds every
// step's input stacked time-major, [T·B, In]; h0 is [B, H]; w is the layer's [H, In+H]
// weight (PyTorch's i2h.weight) and b its bias. The result is every state, h_0 to h_T,
// [(T+1)·B, H] time-major.
//
// Inside, the input projections of all steps are one product, and each step one [B, H]·
// [H, H] product and the activation in place: the unrolled graph of the same arithmetic
// is thousands of tiny nodes. The backward pass is one Op for the recurrence
// (backpropagation through time to each step's pre-activation), then the weights'
// gradients as single large products.
func ElmanSequence(x, h0, w, b *G.Node, steps int, tanh bool) *G.Node {
	return must(G.ApplyOp(elmanOp{steps: steps, tanh: tanh}, x, h0, w, b))
}

type elmanOp struct {
	pure
	steps int
	tanh  bool
	grad  bool // (w, states, dstates) → packed: dh0 then each step's pre-activation gradient
}

func (op elmanOp) spec() exec.Op {
	if op.grad {
		return exec.ElmanSequenceGrad{Steps: op.steps, Tanh: op.tanh}
	}
	return exec.ElmanSequence{Steps: op.steps, Tanh: op.tanh}
}

func (op elmanOp) Arity() int {
	if op.grad {
		return 3
	}
	return 4
}

func (op elmanOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	if op.grad {
		return hm.NewFnType(m, m, m, m)
	}
	return hm.NewFnType(m, m, m, G.TensorType{Dims: 1, Of: a}, m)
}

func (op elmanOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if op.grad {
		return ss[1].Clone(), nil
	}
	x, h0, w, b := ss[0], ss[1], ss[2], ss[3]
	if w.Dims() != 2 || w[1] <= w[0] || b.Dims() != 1 || b[0] != w[0] {
		return nil, fmt.Errorf("%v: weight %v and bias %v are not a layer [H, In+H], [H]", op, w, b)
	}
	hid, in := w[0], w[1]-w[0]
	if op.steps < 1 || x.Dims() != 2 || x[1] != in || x[0]%op.steps != 0 {
		return nil, fmt.Errorf("%v: inputs must be [%d·B, %d], got %v", op, op.steps, in, x)
	}
	rows := x[0] / op.steps
	if !h0.Eq(tensor.Shape{rows, hid}) {
		return nil, fmt.Errorf("%v: initial state must be [%d, %d], got %v", op, rows, hid, h0)
	}
	return tensor.Shape{(op.steps + 1) * rows, hid}, nil
}

func (op elmanOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op elmanOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op elmanOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.ElmanSequence{%d,%v,%v}", op.steps, op.tanh, op.grad)
}
func (op elmanOp) Hashcode() uint32 { return hashOf(op) }
func (op elmanOp) String() string {
	if op.grad {
		return fmt.Sprintf("ElmanSequenceGrad{steps=%d}", op.steps)
	}
	return fmt.Sprintf("ElmanSequence{steps=%d}", op.steps)
}
func (op elmanOp) DiffWRT(int) []bool {
	if op.grad {
		return []bool{false, false, false}
	}
	return []bool{true, true, true, true}
}

// flops: the recurrent products and the input projection.
func (op elmanOp) flops(in []tensor.Shape) int64 {
	if len(in) < 3 {
		return 0
	}
	if op.grad { // one [B, H]·[H, H] product per step
		b, h := int64(in[1][0]/(op.steps+1)), int64(in[0][0])
		return 2 * int64(op.steps) * b * h * h
	}
	tb, hid, ld := int64(in[0][0]), int64(in[2][0]), int64(in[2][1])
	return 2 * tb * hid * ld
}

// SymDiff: backpropagation through time gives dh0 and every step's pre-activation
// gradient dpre [T·B, H]; then dW_x = dpreᵀ·x, dW_h = dpreᵀ·[h_0..h_{T−1}],
// db = Σ dpre, dx = dpre·W_x.
func (op elmanOp) SymDiff(in G.Nodes, states, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	x, w := in[0], in[2]
	rows := x.Shape()[0] / op.steps
	tb, inW := x.Shape()[0], x.Shape()[1]
	var out G.Nodes
	err := Build(func() {
		packed := must(G.ApplyOp(elmanOp{steps: op.steps, tanh: op.tanh, grad: true}, w, states, grad))
		dh0 := Rows(packed, 0, rows)
		dpre := Rows(packed, rows, tb)
		hprev := Rows(states, 0, tb)
		dw := Join(1, must(MatMul(dpre, x, true, false)), must(MatMul(dpre, hprev, true, false)))
		db := must(G.ApplyOp(biasGradOp{BiasGrad: exec.BiasGrad{Axis: 1}, dims: 2}, dpre))
		dx := must(G.ApplyOp(blockOp{axis: 1, start: 0, size: inW, dims: 2}, must(MatMul(dpre, w, false, false))))
		out = G.Nodes{dx, dh0, dw, db}
	})
	return out, err
}
