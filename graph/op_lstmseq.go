package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// LSTMSequence runs one LSTM layer over a whole window in one Op, the way cuDNN does:
// the fast path next to the per-step LSTMCell/LSTMHidden reference (LSTM.ForwardSteps).
//
// xw [T·B, 4H] holds every step's input projection x_t·W_ihᵀ + b_ih + b_hh (one large
// matrix product outside the Op), time-major; whh [4H, H] is the recurrent weight; h0 and
// c0 [B, H] the initial state. The result is the layer's tape [T·B, 6H]: for each step
// and row, h, c and the four activated gates i, f, g, o. LSTMOutputs, LSTMLastH and
// LSTMLastC read the parts a model needs.
//
// Inside, each step is one [B, H]·[H, 4H] product and fused element-wise work. The
// backward pass runs backpropagation through time in one go: the recurrent weight's
// gradient is a single [4H, T·B]·[T·B, H] product rather than T small ones summed, and the
// input projections' gradient comes out as one [T·B, 4H] matrix for the large products
// outside.
func LSTMSequence(xw, whh, h0, c0 *G.Node, steps int) *G.Node {
	return must(G.ApplyOp(lstmSeqOp{steps: steps}, xw, whh, h0, c0))
}

// LSTMOutputs returns the hidden state of every step of a tape, [T·B, H] time-major.
func LSTMOutputs(tape *G.Node, steps int) *G.Node { return lstmPick(tape, steps, pickH) }

// LSTMLastH returns the hidden state after the last step of a tape, [B, H].
func LSTMLastH(tape *G.Node, steps int) *G.Node { return lstmPick(tape, steps, pickLastH) }

// LSTMLastC returns the cell state after the last step of a tape, [B, H].
func LSTMLastC(tape *G.Node, steps int) *G.Node { return lstmPick(tape, steps, pickLastC) }

func lstmPick(tape *G.Node, steps int, part lstmPart) *G.Node {
	return must(G.ApplyOp(lstmPickOp{steps: steps, part: part}, tape))
}

// matrixType is the type of an Op from n matrices to a matrix.
func matrixType(n int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, n+1)
	for i := range ts {
		ts[i] = G.TensorType{Dims: 2, Of: a}
	}
	return hm.NewFnType(ts...)
}

type lstmSeqOp struct {
	pure
	steps int
}

func (op lstmSeqOp) spec() exec.Op { return exec.LSTMSequence{Steps: op.steps} }

func (op lstmSeqOp) Arity() int    { return 4 }
func (op lstmSeqOp) Type() hm.Type { return matrixType(4) }

// dims checks the shapes and returns T, B and H.
func (op lstmSeqOp) dims(ss []tensor.Shape) (t, b, h int, err error) {
	xw, whh := ss[0], ss[1]
	if whh.Dims() != 2 || whh[0] != 4*whh[1] || whh[1] == 0 {
		return 0, 0, 0, fmt.Errorf("%v: recurrent weight must be [4H, H], got %v", op, whh)
	}
	h = whh[1]
	if op.steps < 1 || xw.Dims() != 2 || xw[1] != 4*h || xw[0]%op.steps != 0 {
		return 0, 0, 0, fmt.Errorf("%v: input projections must be [%d·B, %d], got %v", op, op.steps, 4*h, xw)
	}
	b = xw[0] / op.steps
	for _, s := range ss[2:] {
		if !s.Eq(tensor.Shape{b, h}) {
			return 0, 0, 0, fmt.Errorf("%v: initial state must be [%d, %d], got %v", op, b, h, s)
		}
	}
	return op.steps, b, h, nil
}

func (op lstmSeqOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	t, b, h, err := op.dims(ss)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{t * b, 6 * h}, nil
}

func (op lstmSeqOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op lstmSeqOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op lstmSeqOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.LSTMSequence{%d}", op.steps) }
func (op lstmSeqOp) Hashcode() uint32      { return hashOf(op) }
func (op lstmSeqOp) String() string        { return fmt.Sprintf("LSTMSequence{steps=%d}", op.steps) }
func (op lstmSeqOp) DiffWRT(int) []bool    { return []bool{true, true, true, true} }

// FLOPs: the recurrent products of every step.
func (op lstmSeqOp) flops(in []tensor.Shape) int64 {
	if len(in) < 2 {
		return 0
	}
	return 2 * int64(in[0][0]) * int64(in[1][0]) * int64(in[1][1])
}

// SymDiff: one backward Op computes every input's gradient into a packed matrix, which
// four cheap Ops unpack.
func (op lstmSeqOp) SymDiff(in G.Nodes, tape, grad *G.Node) (G.Nodes, error) {
	packed, err := G.ApplyOp(lstmSeqGradOp{steps: op.steps}, in[1], in[2], in[3], tape, grad)
	if err != nil {
		return nil, err
	}
	out := make(G.Nodes, 4)
	for i := range out {
		if out[i], err = G.ApplyOp(lstmUnpackOp{steps: op.steps, part: i}, packed); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lstmSeqGradOp: (whh, h0, c0, tape, dtape) → the packed gradients [T·B + H + B, 4H]:
// rows 0..T·B the input projections', then H rows of the recurrent weight's (transposed),
// then B rows [dh0 | dc0 | 0].
type lstmSeqGradOp struct {
	pure
	steps int
}

func (op lstmSeqGradOp) spec() exec.Op { return exec.LSTMSequenceGrad{Steps: op.steps} }

func (op lstmSeqGradOp) Arity() int    { return 5 }
func (op lstmSeqGradOp) Type() hm.Type { return matrixType(5) }
func (op lstmSeqGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	h, tb := ss[0][1], ss[3][0]
	return tensor.Shape{tb + h + tb/op.steps, 4 * h}, nil
}
func (op lstmSeqGradOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op lstmSeqGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op lstmSeqGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.LSTMSequenceGrad{%d}", op.steps) }
func (op lstmSeqGradOp) Hashcode() uint32      { return hashOf(op) }
func (op lstmSeqGradOp) String() string        { return fmt.Sprintf("LSTMSequenceGrad{steps=%d}", op.steps) }

// FLOPs: the recurrent products of backpropagation through time and the weight gradient.
func (op lstmSeqGradOp) flops(in []tensor.Shape) int64 {
	if len(in) < 4 {
		return 0
	}
	return 4 * int64(in[3][0]) * int64(in[0][0]) * int64(in[0][1])
}

// lstmUnpackOp extracts one input's gradient from the packed matrix: 0 the input
// projections [T·B, 4H], 1 the recurrent weight [4H, H], 2 h0 and 3 c0 [B, H].
type lstmUnpackOp struct {
	pure
	steps, part int
}

func (op lstmUnpackOp) spec() exec.Op { return exec.LSTMUnpack{Steps: op.steps, Part: op.part} }

func (op lstmUnpackOp) Arity() int    { return 1 }
func (op lstmUnpackOp) Type() hm.Type { return matrixType(1) }
func (op lstmUnpackOp) layout(s tensor.Shape) (tb, b, h int) {
	h = s[1] / 4
	b = (s[0] - h) / (op.steps + 1)
	return op.steps * b, b, h
}
func (op lstmUnpackOp) shape(s tensor.Shape) tensor.Shape {
	tb, b, h := op.layout(s)
	switch op.part {
	case 0:
		return tensor.Shape{tb, 4 * h}
	case 1:
		return tensor.Shape{4 * h, h}
	}
	return tensor.Shape{b, h}
}
func (op lstmUnpackOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	return op.shape(ss[0]), nil
}
func (op lstmUnpackOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op lstmUnpackOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}

func (op lstmUnpackOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.LSTMUnpack{%d,%d}", op.steps, op.part)
}
func (op lstmUnpackOp) Hashcode() uint32 { return hashOf(op) }
func (op lstmUnpackOp) String() string   { return fmt.Sprintf("LSTMUnpack{part=%d}", op.part) }

// lstmPart names what a pick reads from a tape.
type lstmPart int

const (
	pickH     lstmPart = iota // every step's h, [T·B, H]
	pickLastH                 // the last step's h, [B, H]
	pickLastC                 // the last step's c, [B, H]
)

// lstmPickOp copies a part out of a tape [T·B, 6H]; its gradient is the same part of a
// zero tape.
type lstmPickOp struct {
	pure
	steps int
	part  lstmPart
	grad  bool // the gradient: [part] → [T·B, 6H]
}

func (op lstmPickOp) spec() exec.Op {
	return exec.LSTMPick{Steps: op.steps, Part: int(op.part), Grad: op.grad}
}

func (op lstmPickOp) Arity() int    { return 1 }
func (op lstmPickOp) Type() hm.Type { return matrixType(1) }

// region returns the first row, the number of rows and the first column of the part.
func (op lstmPickOp) region(tb, h int) (row, rows, col int) {
	b := tb / op.steps
	switch op.part {
	case pickH:
		return 0, tb, 0
	case pickLastH:
		return tb - b, b, 0
	}
	return tb - b, b, h
}
func (op lstmPickOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	s := ss[0]
	if op.grad {
		b := s[0]
		if op.part == pickH {
			b /= op.steps
		}
		return tensor.Shape{op.steps * b, 6 * s[1]}, nil
	}
	if s.Dims() != 2 || s[1]%6 != 0 || s[0]%op.steps != 0 {
		return nil, fmt.Errorf("%v: not an LSTM tape of %d steps: %v", op, op.steps, s)
	}
	_, rows, _ := op.region(s[0], s[1]/6)
	return tensor.Shape{rows, s[1] / 6}, nil
}
func (op lstmPickOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op lstmPickOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}

func (op lstmPickOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.LSTMPick{%d,%d,%v}", op.steps, op.part, op.grad)
}
func (op lstmPickOp) Hashcode() uint32 { return hashOf(op) }
func (op lstmPickOp) String() string {
	name := [...]string{"LSTMOutputs", "LSTMLastH", "LSTMLastC"}[op.part]
	if op.grad {
		name += "Grad"
	}
	return name
}
func (op lstmPickOp) DiffWRT(int) []bool { return []bool{!op.grad} }
func (op lstmPickOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	d, err := G.ApplyOp(lstmPickOp{steps: op.steps, part: op.part, grad: true}, grad)
	return G.Nodes{d}, err
}
