package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
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

func (op embeddingOp) spec() exec.Op { return exec.Lookup{} }

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
func (op embeddingOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op embeddingOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op embeddingOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.Lookup") }
func (op embeddingOp) Hashcode() uint32      { return hashOf(op) }
func (op embeddingOp) String() string        { return "Lookup" }
func (op embeddingOp) DiffWRT(int) []bool    { return []bool{true, false} }
func (op embeddingOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dw, err := G.ApplyOp(embeddingGradOp{vocab: in[0].Shape()[0]}, in[1], grad)
	return G.Nodes{dw, nil}, err
}

// embeddingGradOp scatters dy [N, E] into a [V, E] gradient: row ids[n] gets dy[n].
type embeddingGradOp struct {
	pure
	vocab int
}

func (op embeddingGradOp) spec() exec.Op { return exec.LookupGrad{Vocab: op.vocab} }

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
func (op embeddingGradOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op embeddingGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op embeddingGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.LookupGrad{%d}", op.vocab) }
func (op embeddingGradOp) Hashcode() uint32      { return hashOf(op) }
func (op embeddingGradOp) String() string        { return "LookupGrad" }
