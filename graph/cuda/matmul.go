package cuda

import (
	"fmt"

	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/kernels"
)

// Matrix products through cuBLAS, whose matrices are column-major: a row-major product
// C = op(A)·op(B) is the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, the same memory read the other
// way, so the operands swap and no transpose is copied.

func init() {
	register("MatMul", matMul)
}

// gemm is a row-major strided-batched product as a cuBLAS call: C = α·op(A)·op(B) + β·C,
// C m×n, leading dimensions the row-major widths.
type gemm struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              kernels.Ptr
	lda            int
	strideA        int64
	b              kernels.Ptr
	ldb            int
	strideB        int64
	c              kernels.Ptr
	ldc            int
	strideC        int64
	batch          int
}

func (d *Device) gemm(g gemm) func() error {
	cg := kernels.Gemm{TransA: g.transB, TransB: g.transA, M: g.n, N: g.m, K: g.k, Alpha: g.alpha, Beta: g.beta,
		A: g.b, LDA: g.ldb, StrideA: g.strideB, B: g.a, LDB: g.lda, StrideB: g.strideA,
		C: g.c, LDC: g.ldc, StrideC: g.strideC, Batch: max(g.batch, 1)}
	return func() error {
		cg.Exact = d.Exact // read at launch: the precision may be chosen after compiling
		return d.drv.Gemm(cg)
	}
}

// mdims returns m and k of op(a), and k and n of op(b).
func mdims(sa, sb []int, transA, transB bool) (m, ka, kb, n int) {
	m, ka = sa[0], sa[1]
	if transA {
		m, ka = ka, m
	}
	kb, n = sb[0], sb[1]
	if transB {
		kb, n = n, kb
	}
	return
}

func matMul(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.MatMul)
	sa, sb := p.In[0].Shape, p.In[1].Shape
	m, k, kb, n := mdims(sa, sb, op.TransA, op.TransB)
	if k != kb {
		return nil, fmt.Errorf("inner dimensions differ: %v and %v", sa, sb)
	}
	g := gemm{transA: op.TransA, transB: op.TransB, m: m, n: n, k: k, alpha: 1,
		a: p.In[0].Buf.(Mem).P, lda: sa[1], b: p.In[1].Buf.(Mem).P, ldb: sb[1], c: p.Out.Buf.(Mem).P, ldc: n}
	var steps []func() error
	if op.Bias { // c starts as the bias in every row, and the product is added to it
		c, err := d.elems("bias_rows", m*n, ptr(p.Out), ptr(p.In[2]), i64(n), i64(m*n))
		if err != nil {
			return nil, err
		}
		steps = append(steps, c.run)
		g.beta = 1
	}
	steps = append(steps, d.gemm(g))
	if len(op.Epilogue) > 0 { // the activation in place: a fused chain of one input
		chain := exec.Fused{}
		for i, e := range op.Epilogue {
			chain.Steps = append(chain.Steps, exec.FusedStep{Op: e, Args: []int{i}})
		}
		ep, err := d.fusedCall(chain, []uint64{ptr(p.Out)}, ptr(p.Out), m*n)
		if err != nil {
			return nil, err
		}
		steps = append(steps, ep.run)
	}
	return func() error {
		for _, s := range steps {
			if err := s(); err != nil {
				return err
			}
		}
		return nil
	}, nil
}
