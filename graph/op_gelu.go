package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// GELU returns x·Φ(x), Φ the standard normal distribution function: torch.nn.GELU's exact
// form (nanoGPT's), not the tanh approximation. Its derivative Φ(x) + x·φ(x) needs x, so
// the gradient reads the input rather than the output.
func GELU(x *G.Node) *G.Node { return must(G.ApplyOp(geluOp{}, x)) }

type geluOp struct {
	pure
	grad bool // (x, dy) → dx
}

func (op geluOp) spec() exec.Op { return [...]exec.Op{exec.GELU{}, exec.GELUGrad{}}[b2i(op.grad)] }

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
func (op geluOp) Do(vs ...G.Value) (G.Value, error)                 { return doReference(op, nil, vs) }
func (op geluOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
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
