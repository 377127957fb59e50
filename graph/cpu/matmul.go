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

// matMulKernel is one BLAS product; with a bias, the output's rows start as the bias and
// the product is added to them (the bias folded into the product, no second pass).
func matMulKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.MatMul)
	sa, sb := p.In[0].Shape, p.In[1].Shape
	m, k, kb, n := MatDims(sa, sb, op.TransA, op.TransB)
	if k != kb {
		return nil, fmt.Errorf("inner dimensions differ: %v and %v", sa, sb)
	}
	a, b, c := data[T](p.In[0]), data[T](p.In[1]), data[T](p.Out)
	lda, ldb := sa[1], sb[1]
	if len(op.Epilogue) > 0 {
		return matMulEpilogue[T](p, m, n, k)
	}
	if !op.Bias {
		return func() error {
			Gemm(op.TransA, op.TransB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
			return nil
		}, nil
	}
	bias := data[T](p.In[2])
	return func() error {
		for r := range m {
			copy(c[r*n:(r+1)*n], bias)
		}
		Gemm(op.TransA, op.TransB, m, n, k, 1, a, lda, b, ldb, 1, c, n)
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
func matMulEpilogue[T float](p *exec.Prep, m, n, k int) (exec.Launch, error) {
	op := p.Op.(exec.MatMul)
	a, b, c := data[T](p.In[0]), data[T](p.In[1]), data[T](p.Out)
	lda, ldb := p.In[0].Shape[1], p.In[1].Shape[1]
	var bias []T
	if op.Bias {
		bias = data[T](p.In[2])
	}
	steps := make([]stepFunc[T], len(op.Epilogue))
	for i, e := range op.Epilogue {
		var err error
		if steps[i], err = epilogueStep[T](e); err != nil {
			return nil, err
		}
	}
	if m < n && m*n*k >= gemmSplitWork {
		// Few rows: the product splits better by columns, and the epilogue follows it
		// over the whole output (small enough to be in cache still).
		return matMulThen(p, m, n, k, steps)
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
			rows := c[lo*n : hi*n]
			beta := 0.0
			if bias != nil {
				for r := range hi - lo {
					copy(rows[r*n:(r+1)*n], bias)
				}
				beta = 1
			}
			aOff := lo * lda
			if op.TransA {
				aOff = lo
			}
			gemm1(op.TransA, op.TransB, hi-lo, n, k, 1, a[aOff:], lda, b, ldb, beta, rows, n)
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
func matMulThen[T float](p *exec.Prep, m, n, k int, steps []stepFunc[T]) (exec.Launch, error) {
	op := p.Op.(exec.MatMul)
	a, b, c := data[T](p.In[0]), data[T](p.In[1]), data[T](p.Out)
	lda, ldb := p.In[0].Shape[1], p.In[1].Shape[1]
	var bias []T
	if op.Bias {
		bias = data[T](p.In[2])
	}
	size := m * n
	blocks := (size + fusedBlock - 1) / fusedBlock
	args := make([][][]T, blocks)
	for i := range args {
		args[i] = make([][]T, 1)
	}
	then := func(b0, b1 int) {
		for bl := b0; bl < b1; bl++ {
			blk := c[bl*fusedBlock : min((bl+1)*fusedBlock, size)]
			for _, s := range steps {
				args[bl][0] = blk
				s(blk, args[bl])
			}
		}
	}
	return func() error {
		beta := 0.0
		if bias != nil {
			for r := range m {
				copy(c[r*n:(r+1)*n], bias)
			}
			beta = 1
		}
		Gemm(op.TransA, op.TransB, m, n, k, 1, a, lda, b, ldb, beta, c, n)
		For(blocks, 1, then)
		return nil
	}, nil
}
