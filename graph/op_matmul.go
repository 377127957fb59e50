package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
)

// MatMul returns op(a)·op(b) for matrices, where op transposes its argument when the
// matching flag is set. The transposes are folded into the BLAS call, never materialised:
// this is what lets Linear keep PyTorch's [out, in] weight layout at no cost, and what the
// gradients of a product are made of.
func MatMul(a, b *G.Node, transA, transB bool) (*G.Node, error) {
	return G.ApplyOp(matMulOp{MatMul: exec.MatMul{TransA: transA, TransB: transB}}, a, b)
}

// MatMulBias returns op(a)·op(b) + bias, the bias [N] added to every row as the product's
// starting value: Linear's forward pass in one instruction.
func MatMulBias(a, b, bias *G.Node, transA, transB bool) (*G.Node, error) {
	return G.ApplyOp(matMulOp{MatMul: exec.MatMul{TransA: transA, TransB: transB, Bias: true}}, a, b, bias)
}

type matMulOp struct {
	pure
	exec.MatMul
}

func (op matMulOp) spec() exec.Op { return op.MatMul }

func (op matMulOp) Arity() int {
	if op.Bias {
		return 3
	}
	return 2
}

func (op matMulOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	if op.Bias {
		return hm.NewFnType(m, m, G.TensorType{Dims: 1, Of: a}, m)
	}
	return hm.NewFnType(m, m, m)
}

func (op matMulOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if len(ss) != op.Arity() || ss[0].Dims() != 2 || ss[1].Dims() != 2 {
		return nil, fmt.Errorf("%v: want two matrices, got %v", op, ss)
	}
	m, ka, kb, n := cpu.MatDims(ss[0], ss[1], op.TransA, op.TransB)
	if ka != kb {
		return nil, fmt.Errorf("%v: inner dimensions differ: %v and %v", op, ss[0], ss[1])
	}
	if op.Bias && (ss[2].Dims() != 1 || ss[2][0] != n) {
		return nil, fmt.Errorf("%v: bias of shape %v does not fit %d columns", op, ss[2], n)
	}
	return tensor.Shape{m, n}, nil
}

func (op matMulOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op matMulOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}

func (op matMulOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.MatMul{%v,%v,%v}", op.TransA, op.TransB, op.Bias)
}
func (op matMulOp) Hashcode() uint32 { return hashOf(op) }
func (op matMulOp) String() string {
	s := fmt.Sprintf("MatMul{transA=%v, transB=%v}", op.TransA, op.TransB)
	if op.Bias {
		s = fmt.Sprintf("MatMulBias{transA=%v, transB=%v}", op.TransA, op.TransB)
	}
	return s
}

func (op matMulOp) DiffWRT(int) []bool { return []bool{true, true, true}[:op.Arity()] }

// SymDiff applies the product rule, choosing transposes so that no matrix is ever
// transposed in memory. With C = op(A)·op(B) and upstream gradient dC:
//
//	C = A·B     dA = dC·Bᵀ    dB = Aᵀ·dC
//	C = A·Bᵀ    dA = dC·B     dB = dCᵀ·A
//	C = Aᵀ·B    dA = B·dCᵀ    dB = A·dC
//	C = Aᵀ·Bᵀ   dA = Bᵀ·dCᵀ   dB = dCᵀ·Aᵀ
//
// and a bias gets dC summed over the rows.
func (op matMulOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	a, b := in[0], in[1]
	var da, db *G.Node
	var err error
	switch {
	case !op.TransA && !op.TransB:
		da, err = MatMul(grad, b, false, true)
		if err == nil {
			db, err = MatMul(a, grad, true, false)
		}
	case !op.TransA && op.TransB:
		da, err = MatMul(grad, b, false, false)
		if err == nil {
			db, err = MatMul(grad, a, true, false)
		}
	case op.TransA && !op.TransB:
		da, err = MatMul(b, grad, false, true)
		if err == nil {
			db, err = MatMul(a, grad, false, false)
		}
	default:
		da, err = MatMul(b, grad, true, true)
		if err == nil {
			db, err = MatMul(grad, a, true, true)
		}
	}
	if err != nil {
		return nil, err
	}
	if !op.Bias {
		return G.Nodes{da, db}, nil
	}
	dbias, err := G.ApplyOp(biasGradOp{BiasGrad: exec.BiasGrad{Axis: 1}, dims: 2}, grad)
	return G.Nodes{da, db, dbias}, err
}

// flops is the work of one product: a multiply and an add per term.
func (op matMulOp) flops(in []tensor.Shape) int64 {
	m, k, _, n := cpu.MatDims(in[0], in[1], op.TransA, op.TransB)
	return 2 * int64(m) * int64(k) * int64(n)
}
