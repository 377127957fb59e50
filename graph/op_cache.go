package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// CacheWrite returns a copy of cache [T, W] whose row pos[0] is replaced by columns
// [off, off+W) of the one-row src [1, S]: a transformer decoder's key/value cache gaining
// the keys and values of the token it is processing. For inference only: it has no
// gradient.
func CacheWrite(cache, src, pos *G.Node, off int) *G.Node {
	return must(G.ApplyOp(cacheWriteOp{off: off}, cache, src, pos))
}

type cacheWriteOp struct {
	pure
	off int
}

func (op cacheWriteOp) spec() exec.Op { return exec.CacheWrite{Off: op.off} }

func (op cacheWriteOp) Arity() int { return 3 }
func (op cacheWriteOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, G.TensorType{Dims: 1, Of: a}, m)
}
func (op cacheWriteOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if ss[0].Dims() != 2 || ss[1].Dims() != 2 || ss[1][0] != 1 || ss[1][1] < op.off+ss[0][1] {
		return nil, fmt.Errorf("%v: cache %v and row %v do not fit at column %d", op, ss[0], ss[1], op.off)
	}
	return ss[0].Clone(), nil
}
func (op cacheWriteOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op cacheWriteOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}

func (op cacheWriteOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.CacheWrite{%d}", op.off) }
func (op cacheWriteOp) Hashcode() uint32      { return hashOf(op) }
func (op cacheWriteOp) String() string        { return "CacheWrite" }
func (op cacheWriteOp) DiffWRT(int) []bool    { return []bool{false, false, false} }
func (op cacheWriteOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("CacheWrite has no gradient")
}
