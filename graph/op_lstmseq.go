package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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

// sigmoidT and tanhT: for float32, from the fast exponential (error ~1e-9, far below
// float32's resolution); for float64 (gradient checks), from the math package.
func sigmoidT[T float](x T) T {
	if !isFloat32[T]() {
		return T(1 / (1 + math.Exp(-float64(x))))
	}
	if x >= 0 {
		return T(1 / (1 + expNeg32(-float64(x))))
	}
	e := expNeg32(float64(x))
	return T(e / (1 + e))
}

func tanhT[T float](x T) T {
	if !isFloat32[T]() {
		return T(math.Tanh(float64(x)))
	}
	// tanh x = sign(x)·(1 − e^(−2|x|)) / (1 + e^(−2|x|)), with a non-positive exponent.
	ax := math.Abs(float64(x))
	e := expNeg32(-2 * ax)
	return T(math.Copysign((1-e)/(1+e), float64(x)))
}

type lstmSeqOp struct {
	pure
	steps int
}

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

func (op lstmSeqOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op lstmSeqOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 4, vs)
	if err != nil {
		return nil, err
	}
	t, b, h, err := op.dims([]tensor.Shape{ts[0].Shape(), ts[1].Shape(), ts[2].Shape(), ts[3].Shape()})
	if err != nil {
		return nil, err
	}
	tape := output(prealloc, ts[0].Dtype(), tensor.Shape{t * b, 6 * h})
	switch ts[0].Dtype() {
	case tensor.Float32:
		lstmForward(tape.Float32s(), t, b, h, float32s(ts)...)
	case tensor.Float64:
		lstmForward(tape.Float64s(), t, b, h, float64s(ts)...)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, ts[0].Dtype())
	}
	return tape, nil
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

// lstmForward fills the tape [T·B, 6H] from in = xw, whh, h0, c0.
func lstmForward[T float](tape []T, steps, b, h int, in ...[]T) {
	xw, whh, h0, c0 := in[0], in[1], in[2], in[3]
	w := 6 * h
	gates := make([]T, b*4*h)
	for t := range steps {
		copy(gates, xw[t*b*4*h:(t+1)*b*4*h])
		hPrev, ldh := h0, h
		if t > 0 {
			hPrev, ldh = tape[(t-1)*b*w:], w
		}
		gemm(false, true, b, 4*h, h, 1, hPrev, ldh, whh, h, 1, gates, 4*h)
		parallelFor(b, max(1, 2048/h), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := tape[(t*b+r)*w : (t*b+r+1)*w]
				g := gates[r*4*h : (r+1)*4*h]
				var cPrev []T
				if t == 0 {
					cPrev = c0[r*h : (r+1)*h]
				} else {
					cPrev = tape[((t-1)*b+r)*w+h : ((t-1)*b+r)*w+2*h]
				}
				for j := range h {
					i, f, gg, o := sigmoidT(g[j]), sigmoidT(g[h+j]), tanhT(g[2*h+j]), sigmoidT(g[3*h+j])
					c := f*cPrev[j] + i*gg
					row[j] = o * tanhT(c)
					row[h+j] = c
					row[2*h+j], row[3*h+j], row[4*h+j], row[5*h+j] = i, f, gg, o
				}
			}
		})
	}
}

// lstmSeqGradOp: (whh, h0, c0, tape, dtape) → the packed gradients [T·B + H + B, 4H]:
// rows 0..T·B the input projections', then H rows of the recurrent weight's (transposed),
// then B rows [dh0 | dc0 | 0].
type lstmSeqGradOp struct {
	pure
	steps int
}

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
func (op lstmSeqGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op lstmSeqGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 5, vs)
	if err != nil {
		return nil, err
	}
	h, tb := ts[0].Shape()[1], ts[3].Shape()[0]
	b := tb / op.steps
	packed := output(prealloc, ts[0].Dtype(), tensor.Shape{tb + h + b, 4 * h})
	switch ts[0].Dtype() {
	case tensor.Float32:
		lstmBackward(packed.Float32s(), op.steps, b, h, float32s(ts)...)
	case tensor.Float64:
		lstmBackward(packed.Float64s(), op.steps, b, h, float64s(ts)...)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, ts[0].Dtype())
	}
	return packed, nil
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

// lstmBackward is backpropagation through time over the tape; in = whh, h0, c0, tape,
// dtape (of which the h and c columns carry gradient).
func lstmBackward[T float](packed []T, steps, b, h int, in ...[]T) {
	whh, h0, c0, tape, dtape := in[0], in[1], in[2], in[3], in[4]
	w, g4 := 6*h, 4*h
	da := packed[:steps*b*g4]                  // pre-activation gate gradients, time-major
	dwT := packed[steps*b*g4 : (steps*b+h)*g4] // [H, 4H]
	last := packed[(steps*b+h)*g4:]            // [B, 4H]: dh0 | dc0 | 0
	dhNext := make([]T, b*h)
	dcNext := make([]T, b*h)
	for t := steps - 1; t >= 0; t-- {
		parallelFor(b, max(1, 2048/h), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				k := t*b + r
				row, drow := tape[k*w:(k+1)*w], dtape[k*w:(k+1)*w]
				var cPrev []T
				if t == 0 {
					cPrev = c0[r*h : (r+1)*h]
				} else {
					cPrev = tape[(k-b)*w+h : (k-b)*w+2*h]
				}
				d := da[k*g4 : (k+1)*g4]
				for j := range h {
					c, i, f, g, o := row[h+j], row[2*h+j], row[3*h+j], row[4*h+j], row[5*h+j]
					tc := tanhT(c)
					dh := drow[j] + dhNext[r*h+j]
					dc := drow[h+j] + dcNext[r*h+j] + dh*o*(1-tc*tc)
					d[j] = dc * g * i * (1 - i)
					d[h+j] = dc * cPrev[j] * f * (1 - f)
					d[2*h+j] = dc * i * (1 - g*g)
					d[3*h+j] = dh * tc * o * (1 - o)
					dcNext[r*h+j] = dc * f
				}
			}
		})
		// dh_{t−1} = da_t · W_hh
		gemm(false, false, b, h, g4, 1, da[t*b*g4:], g4, whh, h, 0, dhNext, h)
	}
	// dW_hhᵀ = Σ_t h_{t−1}ᵀ · da_t: h0 for the first step, the tape's h for the others.
	gemm(true, false, h, g4, b, 1, h0, h, da, g4, 0, dwT, g4)
	if steps > 1 {
		gemm(true, false, h, g4, (steps-1)*b, 1, tape, w, da[b*g4:], g4, 1, dwT, g4)
	}
	for r := range b {
		copy(last[r*g4:r*g4+h], dhNext[r*h:(r+1)*h])
		copy(last[r*g4+h:r*g4+2*h], dcNext[r*h:(r+1)*h])
		clear(last[r*g4+2*h : (r+1)*g4])
	}
}

// lstmUnpackOp extracts one input's gradient from the packed matrix: 0 the input
// projections [T·B, 4H], 1 the recurrent weight [4H, H], 2 h0 and 3 c0 [B, H].
type lstmUnpackOp struct {
	pure
	steps, part int
}

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
func (op lstmUnpackOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op lstmUnpackOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	p := ts[0]
	y := output(prealloc, p.Dtype(), op.shape(p.Shape()))
	switch p.Dtype() {
	case tensor.Float32:
		op.unpack(y.Float32s(), p.Float32s(), p.Shape())
	case tensor.Float64:
		op.unpack(y.Float64s(), p.Float64s(), p.Shape())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, p.Dtype())
	}
	return y, nil
}

func (op lstmUnpackOp) unpack(y, p any, s tensor.Shape) {
	tb, b, h := op.layout(s)
	switch y := y.(type) {
	case []float32:
		lstmUnpack(op.part, y, p.([]float32), tb, b, h)
	case []float64:
		lstmUnpack(op.part, y, p.([]float64), tb, b, h)
	}
}

func lstmUnpack[T float](part int, y, p []T, tb, b, h int) {
	g4 := 4 * h
	switch part {
	case 0:
		copy(y, p[:tb*g4])
	case 1: // stored transposed: [H, 4H] → [4H, H]
		dwT := p[tb*g4 : (tb+h)*g4]
		for i := range g4 {
			for j := range h {
				y[i*h+j] = dwT[j*g4+i]
			}
		}
	default:
		off := (tb + h) * g4
		if part == 3 {
			off += h
		}
		for r := range b {
			copy(y[r*h:(r+1)*h], p[off+r*g4:off+r*g4+h])
		}
	}
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
func (op lstmPickOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op lstmPickOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	x := ts[0]
	shape, err := op.InferShape(x.Shape())
	if err != nil {
		return nil, err
	}
	y := output(prealloc, x.Dtype(), shape)
	tape, part := x, y
	if op.grad {
		tape, part = y, x
	}
	tb, h := tape.Shape()[0], tape.Shape()[1]/6
	row, rows, col := op.region(tb, h)
	switch x.Dtype() {
	case tensor.Float32:
		pickRows(op.grad, tape.Float32s(), part.Float32s(), row, rows, col, h)
	case tensor.Float64:
		pickRows(op.grad, tape.Float64s(), part.Float64s(), row, rows, col, h)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
}

// pickRows copies the [rows, h] block at (row, col) of a tape with 6h columns into part,
// or (scatter) part into an otherwise zero tape.
func pickRows[T float](scatter bool, tape, part []T, row, rows, col, h int) {
	w := 6 * h
	if scatter {
		clear(tape)
	}
	for r := range rows {
		t := tape[(row+r)*w+col : (row+r)*w+col+h]
		p := part[r*h : (r+1)*h]
		if scatter {
			copy(t, p)
		} else {
			copy(p, t)
		}
	}
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
