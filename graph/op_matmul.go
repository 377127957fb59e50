package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatMul returns op(a)·op(b) for matrices, where op transposes its argument when the
// matching flag is set. The transposes are folded into the BLAS call, never materialised:
// this is what lets Linear keep PyTorch's [out, in] weight layout at no cost, and what the
// gradients of a product are made of.
func MatMul(a, b *G.Node, transA, transB bool) (*G.Node, error) {
	return G.ApplyOp(matMulOp{transA: transA, transB: transB}, a, b)
}

type matMulOp struct {
	pure
	transA, transB bool
}

func (op matMulOp) Arity() int { return 2 }

func (op matMulOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m, m)
}

// dims returns m, k of op(a) and k, n of op(b).
func (op matMulOp) dims(sa, sb tensor.Shape) (m, ka, kb, n int) {
	m, ka = sa[0], sa[1]
	if op.transA {
		m, ka = ka, m
	}
	kb, n = sb[0], sb[1]
	if op.transB {
		kb, n = n, kb
	}
	return
}

func (op matMulOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if len(ss) != 2 || ss[0].Dims() != 2 || ss[1].Dims() != 2 {
		return nil, fmt.Errorf("%v: want two matrices, got %v", op, ss)
	}
	m, ka, kb, n := op.dims(ss[0], ss[1])
	if ka != kb {
		return nil, fmt.Errorf("%v: inner dimensions differ: %v and %v", op, ss[0], ss[1])
	}
	return tensor.Shape{m, n}, nil
}

func (op matMulOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op matMulOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	a, b := ts[0], ts[1]
	m, k, kb, n := op.dims(a.Shape(), b.Shape())
	if k != kb {
		return nil, fmt.Errorf("%v: inner dimensions differ: %v and %v", op, a.Shape(), b.Shape())
	}
	c := output(prealloc, a.Dtype(), tensor.Shape{m, n})
	lda, ldb := a.Shape()[1], b.Shape()[1]
	switch a.Dtype() {
	case tensor.Float32:
		gemm(op.transA, op.transB, m, n, k, 1, a.Float32s(), lda, b.Float32s(), ldb, 0, c.Float32s(), n)
	case tensor.Float64:
		gemm(op.transA, op.transB, m, n, k, 1, a.Float64s(), lda, b.Float64s(), ldb, 0, c.Float64s(), n)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, a.Dtype())
	}
	return c, nil
}

func (op matMulOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.MatMul{%v,%v}", op.transA, op.transB)
}
func (op matMulOp) Hashcode() uint32 { return hashOf(op) }
func (op matMulOp) String() string {
	return fmt.Sprintf("MatMul{transA=%v, transB=%v}", op.transA, op.transB)
}

func (op matMulOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff applies the product rule, choosing transposes so that no matrix is ever
// transposed in memory. With C = op(A)·op(B) and upstream gradient dC:
//
//	C = A·B     dA = dC·Bᵀ    dB = Aᵀ·dC
//	C = A·Bᵀ    dA = dC·B     dB = dCᵀ·A
//	C = Aᵀ·B    dA = B·dCᵀ    dB = A·dC
//	C = Aᵀ·Bᵀ   dA = Bᵀ·dCᵀ   dB = dCᵀ·Aᵀ
func (op matMulOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	a, b := in[0], in[1]
	var da, db *G.Node
	var err error
	switch {
	case !op.transA && !op.transB:
		da, err = MatMul(grad, b, false, true)
		if err == nil {
			db, err = MatMul(a, grad, true, false)
		}
	case !op.transA && op.transB:
		da, err = MatMul(grad, b, false, false)
		if err == nil {
			db, err = MatMul(grad, a, true, false)
		}
	case op.transA && !op.transB:
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
	return G.Nodes{da, db}, nil
}

// flops is the work of one product: a multiply and an add per term.
func (op matMulOp) flops(in []tensor.Shape) int64 {
	m, k, _, n := op.dims(in[0], in[1])
	return 2 * int64(m) * int64(k) * int64(n)
}

// gemm is C = alpha·op(A)·op(B) + beta·C for float32 or float64 slices, row-major, through
// the BLAS the build links (MatMul and the fused Ops all call it).
func gemm[T float](tA, tB bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	impl := tensor.WhichBLAS()
	switch a := any(a).(type) {
	case []float32:
		impl.Sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, alpha, a, lda, any(b).([]float64), ldb, beta, any(c).([]float64), ldc)
	}
}
