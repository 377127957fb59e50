package cuda

import (
	"math"

	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/kernels"
)

// Multi-head attention: each op is one strided-batched product per head, batched over
// the sequences (a head's columns sit at the same place in every sequence's rows), with
// the row softmax of kernels/embedding.cu between.

func init() {
	for _, kind := range []string{"AttentionProbs", "AttentionApply", "AttentionProbsGradQ", "AttentionProbsGradK",
		"AttentionApplyGradP", "AttentionApplyGradV"} {
		register(kind, attention)
	}
}

func attnShape(op exec.Op) exec.AttentionShape {
	switch o := op.(type) {
	case exec.AttentionProbs:
		return o.AttentionShape
	case exec.AttentionApply:
		return o.AttentionShape
	case exec.AttentionProbsGradQ:
		return o.AttentionShape
	case exec.AttentionProbsGradK:
		return o.AttentionShape
	case exec.AttentionApplyGradP:
		return o.AttentionShape
	case exec.AttentionApplyGradV:
		return o.AttentionShape
	}
	panic("cuda: not an attention op")
}

// mat is one head's matrix in every sequence: the head's first element in sequence 0,
// the row width, and the stride from one sequence to the next (in elements).
type mat struct {
	buf    exec.Buffer
	off    int
	ld     int
	stride int
}

func (m mat) at(h, hstride int) kernels.Ptr { return m.buf.(Mem).P + kernels.Ptr(4*(m.off+h*hstride)) }

func attention(d *Device, p *exec.Prep) (exec.Launch, error) {
	a := attnShape(p.Op)
	hd := a.Dim / a.Heads
	tq, tk := a.Tq, a.Tk
	scale := float32(1 / math.Sqrt(float64(hd)))
	// Rows of q, k and v per sequence, and where a head's columns start.
	seqMat := func(o exec.Operand, rows, col int) mat {
		return mat{buf: o.Buf, off: col, ld: o.Shape[1], stride: rows * o.Shape[1]}
	}
	pmat := func(o exec.Operand) mat { // P or dP: [B·heads·Tq, Tk], head h's block at h·Tq·Tk
		return mat{buf: o.Buf, off: 0, ld: tk, stride: a.Heads * tq * tk}
	}
	ymat := func(o exec.Operand) mat { return mat{buf: o.Buf, off: 0, ld: a.Dim, stride: tq * a.Dim} }
	var b int
	var steps []func() error
	// prod adds, for every head, Z_h = α·op(X_h)·op(Y_h) over the B sequences; a head's
	// block of P advances by Tq·Tk, of q, k, v and Y by the head's width.
	prod := func(tx, ty bool, m, n, k int, alpha float32, x mat, xh int, y mat, yh int, z mat, zh int) {
		for h := range a.Heads {
			steps = append(steps, d.gemm(gemm{transA: tx, transB: ty, m: m, n: n, k: k, alpha: alpha,
				a: x.at(h, xh), lda: x.ld, strideA: int64(x.stride), b: y.at(h, yh), ldb: y.ld, strideB: int64(y.stride),
				c: z.at(h, zh), ldc: z.ld, strideC: int64(z.stride), batch: b}))
		}
	}
	zero := func() error {
		c, err := d.elems("fill", p.Out.Size(), ptr(p.Out), f32(0), i64(p.Out.Size()))
		if err == nil {
			steps = append(steps, c.run)
		}
		return err
	}
	switch p.Op.(type) {
	case exec.AttentionProbs:
		b = p.In[0].Shape[0] / tq
		q, k := seqMat(p.In[0], tq, a.QOff), seqMat(p.In[1], tk, a.KOff)
		prod(false, true, tq, tk, hd, scale, q, hd, k, hd, pmat(p.Out), tq*tk)
		var mask uint64
		if a.Masked {
			mask = ptr(p.In[2])
		}
		causal := 0
		if a.Causal {
			causal = 1
		}
		c, err := d.grid("attn_softmax", [3]int{b * a.Heads * tq, 1, 1}, rowThreads(tk), ptr(p.Out), mask, i64(tq), i64(tk), i64(a.Heads), i64(causal))
		if err != nil {
			return nil, err
		}
		steps = append(steps, c.run)
	case exec.AttentionApply: // Y_h = P_h·v_h
		b = p.In[0].Size() / (a.Heads * tq * tk)
		prod(false, false, tq, hd, tk, 1, pmat(p.In[0]), tq*tk, seqMat(p.In[1], tk, a.VOff), hd, ymat(p.Out), hd)
	case exec.AttentionApplyGradP: // dP_h = dY_h·v_hᵀ
		b = p.In[1].Shape[0] / tq
		prod(false, true, tq, tk, hd, 1, ymat(p.In[1]), hd, seqMat(p.In[0], tk, a.VOff), hd, pmat(p.Out), tq*tk)
	case exec.AttentionApplyGradV: // dv_h = P_hᵀ·dY_h
		b = p.In[0].Size() / (a.Heads * tq * tk)
		if err := zero(); err != nil {
			return nil, err
		}
		prod(true, false, tk, hd, tq, 1, pmat(p.In[0]), tq*tk, ymat(p.In[1]), hd, seqMat(p.Out, tk, a.VOff), hd)
	case exec.AttentionProbsGradQ, exec.AttentionProbsGradK:
		b = p.In[0].Shape[0] / tq
		// dS = P ⊙ (dP − rowsum(dP ⊙ P)) into scratch, then the scores' product rule.
		n := b * a.Heads * tq * tk
		ds := p.Scratch(exec.Float32, n)
		if err := zero(); err != nil {
			return nil, err
		}
		f, err := d.fn("softmax_grad_rows")
		if err != nil {
			return nil, err
		}
		pr, dp := ptr(p.In[2]), ptr(p.In[3])
		var dsMat mat
		steps = append(steps, func() error {
			return d.drv.Launch(f, [3]int{b * a.Heads * tq, 1, 1}, [3]int{rowThreads(tk), 1, 1}, 0, []uint64{pm(ds.Buf()), pr, dp, i64(tk)})
		})
		// The scratch buffer is known at launch only: the products read it through dsAt.
		q, k := seqMat(p.In[0], tq, a.QOff), seqMat(p.In[1], tk, a.KOff)
		heads := a.Heads
		_, isQ := p.Op.(exec.AttentionProbsGradQ)
		out := seqMat(p.Out, tq, a.QOff)
		if !isQ {
			out = seqMat(p.Out, tk, a.KOff)
		}
		steps = append(steps, func() error {
			dsMat = mat{buf: ds.Buf(), off: 0, ld: tk, stride: heads * tq * tk}
			for h := range heads {
				var g gemm
				if isQ { // dq_h = dS_h·k_h·scale
					g = gemm{m: tq, n: hd, k: tk, a: dsMat.at(h, tq*tk), lda: tk, strideA: int64(dsMat.stride),
						b: k.at(h, hd), ldb: k.ld, strideB: int64(k.stride)}
				} else { // dk_h = dS_hᵀ·q_h·scale
					g = gemm{transA: true, m: tk, n: hd, k: tq, a: dsMat.at(h, tq*tk), lda: tk, strideA: int64(dsMat.stride),
						b: q.at(h, hd), ldb: q.ld, strideB: int64(q.stride)}
				}
				g.alpha, g.c, g.ldc, g.strideC, g.batch = scale, out.at(h, hd), out.ld, int64(out.stride), b
				if err := d.gemm(g)(); err != nil {
					return err
				}
			}
			return nil
		})
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
