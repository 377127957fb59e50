package cuda

import (
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/kernels"
)

// The LSTM and Elman layers over whole sequences: per step, one cuBLAS product for the
// recurrence and one pointwise kernel (kernels/recurrent.cu).

func init() {
	register("LSTMCell", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		h := p.In[0].Shape[1] / 4
		rows := p.In[0].Shape[0]
		x1, x2 := uint64(0), uint64(0)
		if len(p.In) > 1 {
			x1 = ptr(p.In[1])
		}
		if len(p.In) > 2 {
			x2 = ptr(p.In[2])
		}
		return one(d.elems("lstm_cell", rows*h, ptr(p.Out), ptr(p.In[0]), x1, x2, i64(int(p.Op.(exec.LSTMCell).Fn)), i64(h), i64(rows)))
	})
	register("LSTMSequence", lstmSequence)
	register("LSTMSequenceGrad", lstmSequenceGrad)
	register("LSTMUnpack", lstmUnpack)
	register("LSTMPick", lstmPick)
	register("ElmanSequence", elman)
	register("ElmanSequenceGrad", elmanGrad)
}

func at(b exec.Buffer, off int) kernels.Ptr { return b.(Mem).P + kernels.Ptr(4*off) }

func lstmSequence(d *Device, p *exec.Prep) (exec.Launch, error) {
	steps := p.Op.(exec.LSTMSequence).Steps
	h := p.In[1].Shape[1]
	b := p.In[0].Shape[0] / steps
	w := 6 * h
	tape, xw, whh, h0, c0 := p.Out.Buf, p.In[0].Buf, p.In[1].Buf, p.In[2].Buf, p.In[3].Buf
	hwS := p.Scratch(exec.Float32, b*4*h)
	f, err := d.fn("lstm_fwd_step")
	if err != nil {
		return nil, err
	}
	grid := [3]int{min((b*h+threads-1)/threads, maxBlocks), 1, 1}
	return func() error {
		hw := hwS.Buf()
		for t := range steps {
			hPrev, ldh, cPrev, ldc := at(h0, 0), h, at(c0, 0), h
			if t > 0 {
				hPrev, ldh, cPrev, ldc = at(tape, (t-1)*b*w), w, at(tape, (t-1)*b*w+h), w
			}
			// hw = h_{t−1}·W_hhᵀ, then the cell adds the input's projection
			if err := d.gemm(gemm{transB: true, m: b, n: 4 * h, k: h, alpha: 1, a: hPrev, lda: ldh, b: at(whh, 0), ldb: h,
				c: at(hw, 0), ldc: 4 * h})(); err != nil {
				return err
			}
			if err := d.drv.Launch(f, grid, [3]int{threads, 1, 1}, 0, []uint64{uint64(at(tape, t*b*w)), uint64(at(xw, t*b*4*h)),
				pm(hw), uint64(cPrev), i64(ldc), i64(b), i64(h)}); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

func lstmSequenceGrad(d *Device, p *exec.Prep) (exec.Launch, error) {
	steps := p.Op.(exec.LSTMSequenceGrad).Steps
	whh, h0, c0, tape, dtape := p.In[0].Buf, p.In[1].Buf, p.In[2].Buf, p.In[3].Buf, p.In[4].Buf
	packed := p.Out.Buf
	h := p.In[0].Shape[1]
	b := p.In[3].Shape[0] / steps
	w, g4 := 6*h, 4*h
	dwT := steps * b * g4      // [H, 4H] after the gate gradients
	last := (steps*b + h) * g4 // [B, 4H]: dh0 | dc0 | 0
	nextS := p.Scratch(exec.Float32, 2*b*h)
	step, err := d.fn("lstm_bwd_step")
	if err != nil {
		return nil, err
	}
	fill, err := d.fn("fill")
	if err != nil {
		return nil, err
	}
	pack, err := d.fn("lstm_last")
	if err != nil {
		return nil, err
	}
	block := [3]int{threads, 1, 1}
	grid := func(n int) [3]int { return [3]int{max(min((n+threads-1)/threads, maxBlocks), 1), 1, 1} }
	return func() error {
		next := nextS.Buf()
		dhn, dcn := at(next, 0), at(next, b*h)
		if err := d.drv.Launch(fill, grid(2*b*h), block, 0, []uint64{pm(next), f32(0), i64(2 * b * h)}); err != nil {
			return err
		}
		for t := steps - 1; t >= 0; t-- {
			cPrev, ldc := at(c0, 0), h
			if t > 0 {
				cPrev, ldc = at(tape, (t-1)*b*w+h), w
			}
			da := at(packed, t*b*g4)
			if err := d.drv.Launch(step, grid(b*h), block, 0, []uint64{uint64(da), uint64(dhn), uint64(dcn),
				uint64(at(tape, t*b*w)), uint64(at(dtape, t*b*w)), uint64(cPrev), i64(ldc), i64(b), i64(h)}); err != nil {
				return err
			}
			// dh_{t−1} = da_t·W_hh
			if err := d.gemm(gemm{m: b, n: h, k: g4, alpha: 1, a: da, lda: g4, b: at(whh, 0), ldb: h, c: dhn, ldc: h})(); err != nil {
				return err
			}
		}
		// W_hh's gradient, transposed: h0ᵀ·da_0 + Σ_t h_{t−1}ᵀ·da_t
		if err := d.gemm(gemm{transA: true, m: h, n: g4, k: b, alpha: 1, a: at(h0, 0), lda: h, b: at(packed, 0), ldb: g4,
			c: at(packed, dwT), ldc: g4})(); err != nil {
			return err
		}
		if steps > 1 {
			if err := d.gemm(gemm{transA: true, m: h, n: g4, k: (steps - 1) * b, alpha: 1, beta: 1, a: at(tape, 0), lda: w,
				b: at(packed, b*g4), ldb: g4, c: at(packed, dwT), ldc: g4})(); err != nil {
				return err
			}
		}
		return d.drv.Launch(pack, grid(b*g4), block, 0, []uint64{uint64(at(packed, last)), uint64(dhn), uint64(dcn), i64(b), i64(h)})
	}, nil
}

func lstmUnpack(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.LSTMUnpack)
	s := p.In[0].Shape
	h := s[1] / 4
	b := (s[0] - h) / (op.Steps + 1)
	tb, g4 := op.Steps*b, 4*h
	pk := p.In[0].Buf
	switch op.Part {
	case 0:
		return one(d.copy2d(p.Out.Buf, 0, 0, pk, 0, 0, 1, tb*g4))
	case 1: // stored transposed: [H, 4H] → [4H, H]
		return one(d.elems("transpose", g4*h, ptr(p.Out), uint64(at(pk, tb*g4)), i64(h), i64(g4)))
	}
	off := (tb + h) * g4
	if op.Part == 3 {
		off += h
	}
	return one(d.copy2d(p.Out.Buf, 0, h, pk, off, g4, b, h))
}

func lstmPick(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.LSTMPick)
	tapeO, part := p.In[0], p.Out
	if op.Grad {
		tapeO, part = p.Out, p.In[0]
	}
	tb, h := tapeO.Shape[0], tapeO.Shape[1]/6
	b := tb / op.Steps
	row, rows, col := 0, tb, 0
	switch op.Part {
	case 1:
		row, rows = tb-b, b
	case 2:
		row, rows, col = tb-b, b, h
	}
	w := 6 * h
	if !op.Grad {
		return one(d.copy2d(part.Buf, 0, h, tapeO.Buf, row*w+col, w, rows, h))
	}
	zero, err := d.elems("fill", tapeO.Size(), ptr(tapeO), f32(0), i64(tapeO.Size()))
	if err != nil {
		return nil, err
	}
	c, err := d.copy2d(tapeO.Buf, row*w+col, w, part.Buf, 0, h, rows, h)
	if err != nil {
		return nil, err
	}
	return seq(zero, c), nil
}

func elman(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.ElmanSequence)
	st, x, h0, wt, bias := p.Out.Buf, p.In[0].Buf, p.In[1].Buf, p.In[2].Buf, p.In[3].Buf
	h := p.In[2].Shape[0]
	in := p.In[2].Shape[1] - h
	steps, b := op.Steps, p.In[0].Shape[0]/op.Steps
	ld := in + h
	first, err := d.copy2d(st, 0, 0, h0, 0, 0, 1, b*h)
	if err != nil {
		return nil, err
	}
	biasRows, err := d.elems("bias_rows", steps*b*h, uint64(at(st, b*h)), pm(bias), i64(h), i64(steps*b*h))
	if err != nil {
		return nil, err
	}
	act, err := d.fn("tanh_inplace")
	if err != nil {
		return nil, err
	}
	grid := [3]int{max(min((b*h+threads-1)/threads, maxBlocks), 1), 1, 1}
	proj := d.gemm(gemm{transB: true, m: steps * b, n: h, k: in, alpha: 1, beta: 1, a: at(x, 0), lda: in, b: at(wt, 0), ldb: ld,
		c: at(st, b*h), ldc: h})
	recur := make([]func() error, steps+1)
	for t := 1; t <= steps; t++ {
		recur[t] = d.gemm(gemm{transB: true, m: b, n: h, k: h, alpha: 1, beta: 1, a: at(st, (t-1)*b*h), lda: h,
			b: at(wt, in), ldb: ld, c: at(st, t*b*h), ldc: h})
	}
	return func() error {
		if err := first.run(); err != nil {
			return err
		}
		if err := biasRows.run(); err != nil {
			return err
		}
		if err := proj(); err != nil {
			return err
		}
		for t := 1; t <= steps; t++ {
			if err := recur[t](); err != nil {
				return err
			}
			if op.Tanh {
				if err := d.drv.Launch(act, grid, [3]int{threads, 1, 1}, 0, []uint64{uint64(at(st, t*b*h)), i64(b * h)}); err != nil {
					return err
				}
			}
		}
		return nil
	}, nil
}

func elmanGrad(d *Device, p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.ElmanSequenceGrad)
	out, wt, st, dst := p.Out.Buf, p.In[0].Buf, p.In[1].Buf, p.In[2].Buf
	h := p.In[0].Shape[0]
	in := p.In[0].Shape[1] - h
	ld := in + h
	steps := op.Steps
	b := p.In[1].Shape[0] / (steps + 1)
	init, err := d.copy2d(out, 0, 0, dst, 0, 0, 1, p.Out.Size())
	if err != nil {
		return nil, err
	}
	deriv, err := d.fn("tanh_deriv")
	if err != nil {
		return nil, err
	}
	grid := [3]int{max(min((b*h+threads-1)/threads, maxBlocks), 1), 1, 1}
	back := func(t int) func() error { // out_t += out_{t+1}·W_h
		return d.gemm(gemm{m: b, n: h, k: h, alpha: 1, beta: 1, a: at(out, (t+1)*b*h), lda: h, b: at(wt, in), ldb: ld,
			c: at(out, t*b*h), ldc: h})
	}
	return func() error {
		if err := init.run(); err != nil {
			return err
		}
		for t := steps; t >= 1; t-- {
			if t < steps {
				if err := back(t)(); err != nil {
					return err
				}
			}
			if op.Tanh {
				if err := d.drv.Launch(deriv, grid, [3]int{threads, 1, 1}, 0, []uint64{uint64(at(out, t*b*h)), uint64(at(st, t*b*h)), i64(b * h)}); err != nil {
					return err
				}
			}
		}
		if steps >= 1 {
			return back(0)()
		}
		return nil
	}, nil
}
