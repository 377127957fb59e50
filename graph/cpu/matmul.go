package cpu

import (
	"fmt"

	"github.com/aigc-go/aigc/graph/exec"
)

// Matrix products and bias.

func init() {
	register("MatMul", matMulKernel[float32], matMulKernel[float64])
	register("AddBias", addBiasKernel[float32], addBiasKernel[float64])
	register("BiasGrad", biasGradKernel[float32], biasGradKernel[float64])
}

// MatDims returns m and k of op(a), and k and n of op(b), for shapes a and b.
func MatDims(sa, sb []int, transA, transB bool) (m, ka, kb, n int) {
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

// product is a MatMul's operands: c = op(a)·op(b) (+ bias), c being m×n and k the inner
// dimension.
type product[T float] struct {
	op       exec.MatMul
	a, b, c  []T
	bias     []T // nil without a bias
	lda, ldb int
	m, n, k  int
}

// gemm computes the whole product on the pool's threads.
func (q *product[T]) gemm() {
	Gemm(q.op.TransA, q.op.TransB, q.m, q.n, q.k, 1, q.a, q.lda, q.b, q.ldb, q.startRows(0, q.m), q.c, q.n)
}

// rows computes rows lo:hi of the product, one BLAS call.
func (q *product[T]) rows(lo, hi int) {
	gemmRows(q.op.TransA, q.op.TransB, lo, hi, q.n, q.k, 1, q.a, q.lda, q.b, q.ldb, q.startRows(lo, hi), q.c, q.n)
}

// startRows readies rows lo:hi of c for the product and returns the BLAS beta: with a
// bias the rows start as the bias and the product is added to them (the bias folded in,
// no second pass).
func (q *product[T]) startRows(lo, hi int) float64 {
	if q.bias == nil {
		return 0
	}
	for r := lo; r < hi; r++ {
		copy(q.c[r*q.n:(r+1)*q.n], q.bias)
	}
	return 1
}

// matMulKernel is one BLAS product, with its bias and its epilogue.
func matMulKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.MatMul)
	sa, sb := p.In[0].Shape, p.In[1].Shape
	m, k, kb, n := MatDims(sa, sb, op.TransA, op.TransB)
	if k != kb {
		return nil, fmt.Errorf("inner dimensions differ: %v and %v", sa, sb)
	}
	q := &product[T]{op: op, a: data[T](p.In[0]), b: data[T](p.In[1]), c: data[T](p.Out),
		lda: sa[1], ldb: sb[1], m: m, n: n, k: k}
	if op.Bias {
		q.bias = data[T](p.In[2])
	}
	if len(op.Epilogue) > 0 {
		return matMulEpilogue(q)
	}
	return func() error {
		q.gemm()
		return nil
	}, nil
}

// BiasSplit views shape as [outer, n, inner] around axis.
func BiasSplit(s []int, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, s[axis], inner
}

func addBiasKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.AddBias)
	y, x, b := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	outer, n, inner := BiasSplit(p.In[0].Shape, op.Axis)
	// One (outer, channel) plane of inner elements per item.
	return launch(outer*n, max(1, elemGrain/inner), func(lo, hi int) {
		for q := lo; q < hi; q++ {
			bc := b[q%n]
			ys, xs := y[q*inner:(q+1)*inner], x[q*inner:(q+1)*inner]
			for i := range ys {
				ys[i] = xs[i] + bc
			}
		}
	}), nil
}

// biasGradKernel sums dy over every axis but the bias axis, each channel's sum in a fixed
// order.
func biasGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.BiasGrad)
	db, dy := data[T](p.Out), data[T](p.In[0])
	outer, n, inner := BiasSplit(p.In[0].Shape, op.Axis)
	if inner == 1 { // [rows, n]: column sums, rows added in order
		return func() error {
			clear(db)
			for r := range outer {
				AddRange(db, db, dy[r*n:(r+1)*n])
			}
			return nil
		}, nil
	}
	return launch(n, max(1, elemGrain/(outer*inner)), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var acc T
			for o := range outer {
				var s T
				for _, v := range dy[(o*n+c)*inner : (o*n+c+1)*inner] {
					s += v
				}
				acc += s
			}
			db[c] = acc
		}
	}), nil
}

// epilogueStep returns the arithmetic of an epilogue op on a block: the vectorised one
// where the fast kernels are on.
var epilogueStep32 func(exec.Op) (stepFunc[float32], error)

func epilogueStep[T float](op exec.Op) (stepFunc[T], error) {
	if isFloat32[T]() && fastEnabled && epilogueStep32 != nil {
		f, err := epilogueStep32(op)
		return any(f).(stepFunc[T]), err
	}
	return elemStep[T](op)
}

// matMulEpilogue computes the product in blocks of rows, one per thread, each block's
// bias, product and epilogue one after the other while the block is in cache.
func matMulEpilogue[T float](q *product[T]) (exec.Launch, error) {
	steps := make([]stepFunc[T], len(q.op.Epilogue))
	for i, e := range q.op.Epilogue {
		var err error
		if steps[i], err = epilogueStep[T](e); err != nil {
			return nil, err
		}
	}
	m, n, k := q.m, q.n, q.k
	if m < n && m*n*k >= gemmSplitWork {
		// Few rows: the product splits better by columns, and the epilogue follows it
		// over the whole output (small enough to be in cache still).
		return matMulThen(q, steps)
	}
	chunk := m
	if m*n*k >= gemmSplitWork && splitGemm {
		chunk = roundUp((m+Threads()-1)/Threads(), 16)
	}
	blocks := (m + chunk - 1) / chunk
	args := make([][][]T, blocks) // per block: the step's one argument
	for i := range args {
		args[i] = make([][]T, 1)
	}
	body := func(b0, b1 int) {
		for bl := b0; bl < b1; bl++ {
			lo, hi := bl*chunk, min((bl+1)*chunk, m)
			q.rows(lo, hi)
			rows := q.c[lo*n : hi*n]
			for _, s := range steps {
				args[bl][0] = rows
				s(rows, args[bl])
			}
		}
	}
	return func() error {
		For(blocks, 1, body)
		return nil
	}, nil
}

// matMulThen is the product (split as Gemm splits it), then the epilogue steps over the
// output in blocks.
func matMulThen[T float](q *product[T], steps []stepFunc[T]) (exec.Launch, error) {
	size := q.m * q.n
	blocks := (size + fusedBlock - 1) / fusedBlock
	args := make([][][]T, blocks)
	for i := range args {
		args[i] = make([][]T, 1)
	}
	then := func(b0, b1 int) {
		for bl := b0; bl < b1; bl++ {
			blk := q.c[bl*fusedBlock : min((bl+1)*fusedBlock, size)]
			for _, s := range steps {
				args[bl][0] = blk
				s(blk, args[bl])
			}
		}
	}
	return func() error {
		q.gemm()
		For(blocks, 1, then)
		return nil
	}, nil
}
