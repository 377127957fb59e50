package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Lookup returns rows ids[n] of weight [V, E] as an [N, E] matrix (torch.nn.Embedding's
// forward). ids is an [N] vector of token ids held as floats (exact up to 2^24), like the
// labels of SoftmaxCrossEntropy; an id outside [0, V) fails the run with an error naming
// its position. The gradient scatters the rows' gradients back into weight's rows, adding
// where an id repeats; ids get none.
func Lookup(weight, ids *G.Node) *G.Node {
	return must(G.ApplyOp(embeddingOp{}, weight, ids))
}

type embeddingOp struct{ pure }

func (op embeddingOp) Arity() int { return 2 }
func (op embeddingOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, G.TensorType{Dims: 1, Of: a}, m)
}
func (op embeddingOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if ss[0].Dims() != 2 || ss[1].Dims() != 1 {
		return nil, fmt.Errorf("%v: want weight [V, E] and ids [N], got %v and %v", op, ss[0], ss[1])
	}
	return tensor.Shape{ss[1][0], ss[0][1]}, nil
}
func (op embeddingOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op embeddingOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	w, ids := ts[0], ts[1]
	v, e := w.Shape()[0], w.Shape()[1]
	y := output(prealloc, w.Dtype(), tensor.Shape{ids.Shape()[0], e})
	switch w.Dtype() {
	case tensor.Float32:
		err = gatherRows(op, y.Float32s(), w.Float32s(), ids.Float32s(), v, e)
	case tensor.Float64:
		err = gatherRows(op, y.Float64s(), w.Float64s(), ids.Float64s(), v, e)
	default:
		err = fmt.Errorf("%v: unsupported dtype %v", op, w.Dtype())
	}
	return y, err
}
func (op embeddingOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.Lookup") }
func (op embeddingOp) Hashcode() uint32      { return hashOf(op) }
func (op embeddingOp) String() string        { return "Lookup" }
func (op embeddingOp) DiffWRT(int) []bool    { return []bool{true, false} }
func (op embeddingOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dw, err := G.ApplyOp(embeddingGradOp{vocab: in[0].Shape()[0]}, in[1], grad)
	return G.Nodes{dw, nil}, err
}

// tokenID returns ids[n] as a row index into v rows, or an error.
func tokenID[T float](op fmt.Stringer, id T, n, v int) (int, error) {
	f := float64(id)
	if !(f >= 0 && f < float64(v) && f == math.Trunc(f)) {
		return 0, fmt.Errorf("%v: id %v at position %d is not a row of the %d-row table", op, f, n, v)
	}
	return int(f), nil
}

func gatherRows[T float](op fmt.Stringer, y, w, ids []T, v, e int) error {
	for n, id := range ids {
		k, err := tokenID(op, id, n, v)
		if err != nil {
			return err
		}
		copy(y[n*e:(n+1)*e], w[k*e:(k+1)*e])
	}
	return nil
}

// embeddingGradOp scatters dy [N, E] into a [V, E] gradient: row ids[n] gets dy[n].
type embeddingGradOp struct {
	pure
	vocab int
}

func (op embeddingGradOp) Arity() int { return 2 }
func (op embeddingGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(G.TensorType{Dims: 1, Of: a}, m, m)
}
func (op embeddingGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{op.vocab, ss[1][1]}, nil
}
func (op embeddingGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op embeddingGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	ids, dy := ts[0], ts[1]
	e := dy.Shape()[1]
	dw := output(prealloc, dy.Dtype(), tensor.Shape{op.vocab, e})
	switch dy.Dtype() {
	case tensor.Float32:
		err = scatterRows(op, dw.Float32s(), dy.Float32s(), ids.Float32s(), op.vocab, e)
	case tensor.Float64:
		err = scatterRows(op, dw.Float64s(), dy.Float64s(), ids.Float64s(), op.vocab, e)
	default:
		err = fmt.Errorf("%v: unsupported dtype %v", op, dy.Dtype())
	}
	return dw, err
}
func (op embeddingGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.LookupGrad{%d}", op.vocab) }
func (op embeddingGradOp) Hashcode() uint32      { return hashOf(op) }
func (op embeddingGradOp) String() string        { return "LookupGrad" }

func scatterRows[T float](op fmt.Stringer, dw, dy, ids []T, v, e int) error {
	clear(dw)
	for n, id := range ids {
		k, err := tokenID(op, id, n, v)
		if err != nil {
			return err
		}
		row := dw[k*e : (k+1)*e]
		for j, g := range dy[n*e : (n+1)*e] {
			row[j] += g
		}
	}
	return nil
}
