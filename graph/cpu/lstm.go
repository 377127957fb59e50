package cpu

import (
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// The LSTM: the per-step cell functions (the reference), the fused layer over a window
// and its backpropagation through time, and the copies in and out of its tape.

func init() {
	register("LSTMCell", lstmCellKernel[float32], lstmCellKernel[float64])
	register("LSTMSequence", lstmSeqKernel(lstmFwdRows[float32]), lstmSeqKernel(lstmFwdRows[float64]))
	register("LSTMSequenceGrad", lstmSeqGradKernel(lstmBwdRows[float32]), lstmSeqGradKernel(lstmBwdRows[float64]))
	register("LSTMUnpack", lstmUnpackKernel[float32], lstmUnpackKernel[float64])
	register("LSTMPick", lstmPickKernel[float32], lstmPickKernel[float64])
}

// sigmoidT and tanhT: for float32, from the fast exponential (error ~1e-9, far below
// float32's resolution); for float64 (gradient checks), from the math package.
func sigmoidT[T float](x T) T {
	if !isFloat32[T]() {
		return T(1 / (1 + math.Exp(-float64(x))))
	}
	if x >= 0 {
		return T(1 / (1 + ExpNeg32(-float64(x))))
	}
	e := ExpNeg32(float64(x))
	return T(e / (1 + e))
}

func tanhT[T float](x T) T {
	if !isFloat32[T]() {
		return T(math.Tanh(float64(x)))
	}
	// tanh x = sign(x)·(1 − e^(−2|x|)) / (1 + e^(−2|x|)), with a non-positive exponent.
	ax := math.Abs(float64(x))
	e := ExpNeg32(-2 * ax)
	return T(math.Copysign((1-e)/(1+e), float64(x)))
}

// lstmCellKernel computes one of the cell's functions over B rows of H units; the gates
// [B, 4H] come first, then [B, H] states and gradients.
func lstmCellKernel[T float](p *exec.Prep) (exec.Launch, error) {
	fn := p.Op.(exec.LSTMCell).Fn
	y, a := data[T](p.Out), data[T](p.In[0])
	in := make([][]T, len(p.In))
	for i, o := range p.In {
		in[i] = data[T](o)
	}
	h := p.In[0].Shape[1] / 4
	rows := len(a) / (4 * h)
	return launch(rows, max(1, 4096/h), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ar := a[r*4*h : (r+1)*4*h]
			s := r * h
			for j := range h {
				ai, af, ag, ao := float64(ar[j]), float64(ar[h+j]), float64(ar[2*h+j]), float64(ar[3*h+j])
				switch fn {
				case exec.LSTMC:
					y[s+j] = T(sigmoid64(af)*float64(in[1][s+j]) + sigmoid64(ai)*math.Tanh(ag))
				case exec.LSTMH:
					y[s+j] = T(sigmoid64(ao) * math.Tanh(float64(in[1][s+j])))
				case exec.LSTMCGradGates:
					i, f, g := sigmoid64(ai), sigmoid64(af), math.Tanh(ag)
					dc, cp := float64(in[2][s+j]), float64(in[1][s+j])
					yr := y[r*4*h : (r+1)*4*h]
					yr[j] = T(dc * g * i * (1 - i))
					yr[h+j] = T(dc * cp * f * (1 - f))
					yr[2*h+j] = T(dc * i * (1 - g*g))
					yr[3*h+j] = 0
				case exec.LSTMCGradPrev:
					y[s+j] = T(sigmoid64(af) * float64(in[1][s+j]))
				case exec.LSTMHGradGates:
					o, tc, dh := sigmoid64(ao), math.Tanh(float64(in[1][s+j])), float64(in[2][s+j])
					yr := y[r*4*h : (r+1)*4*h]
					yr[j], yr[h+j], yr[2*h+j] = 0, 0, 0
					yr[3*h+j] = T(dh * tc * o * (1 - o))
				case exec.LSTMHGradC:
					o, tc, dh := sigmoid64(ao), math.Tanh(float64(in[1][s+j])), float64(in[2][s+j])
					y[s+j] = T(dh * o * (1 - tc*tc))
				}
			}
		}
	}), nil
}

// lstmRows is the fewest rows of h units worth a thread in the sequence kernels.
func lstmRows(h int) int { return max(1, 2048/h) }

// lstmFwdRows is the cell over rows [lo, hi) of one step: the tape rows (6h wide) from
// the step's pre-activation gates [rows, 4h] and the previous cell state (rows ldc apart).
func lstmFwdRows[T float](tape, gates, cprev []T, ldc, lo, hi, h int) {
	w := 6 * h
	for r := lo; r < hi; r++ {
		row := tape[r*w : (r+1)*w]
		g := gates[r*4*h : (r+1)*4*h]
		cp := cprev[r*ldc : r*ldc+h]
		for j := range h {
			i, f, gg, o := sigmoidT(g[j]), sigmoidT(g[h+j]), tanhT(g[2*h+j]), sigmoidT(g[3*h+j])
			c := f*cp[j] + i*gg
			row[j] = o * tanhT(c)
			row[h+j] = c
			row[2*h+j], row[3*h+j], row[4*h+j], row[5*h+j] = i, f, gg, o
		}
	}
}

// lstmSeqKernel fills the tape [T·B, 6H] from (xw, whh, h0, c0): each step is one
// [B, H]·[H, 4H] product onto the step's input projections, then the cell.
func lstmSeqKernel[T float](cell func(tape, gates, cprev []T, ldc, lo, hi, h int)) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		steps := p.Op.(exec.LSTMSequence).Steps
		tape := data[T](p.Out)
		xw, whh, h0, c0 := data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
		h := p.In[1].Shape[1]
		b := p.In[0].Shape[0] / steps
		w := 6 * h
		gatesS := p.Scratch(dtypeOf[T](), b*4*h)
		var t int
		var gates []T
		body := func(lo, hi int) {
			cprev, ldc := c0, h
			if t > 0 {
				cprev, ldc = tape[(t-1)*b*w+h:], w
			}
			cell(tape[t*b*w:], gates, cprev, ldc, lo, hi, h)
		}
		return func() error {
			gates = scratch[T](gatesS)
			for t = range steps {
				copy(gates, xw[t*b*4*h:(t+1)*b*4*h])
				hPrev, ldh := h0, h
				if t > 0 {
					hPrev, ldh = tape[(t-1)*b*w:], w
				}
				Gemm(false, true, b, 4*h, h, 1, hPrev, ldh, whh, h, 1, gates, 4*h)
				For(b, lstmRows(h), body)
			}
			return nil
		}, nil
	}
}

// lstmBwdRows is backpropagation through the cell over rows [lo, hi) of one step: from
// the step's tape rows and their gradient, the previous cell state (rows ldc apart) and
// the next step's dh and dc (dc updated in place to this step's dc·f), the pre-activation
// gradients da [rows, 4h].
func lstmBwdRows[T float](da, dhNext, dcNext, tape, dtape, cprev []T, ldc, lo, hi, h int) {
	w, g4 := 6*h, 4*h
	for r := lo; r < hi; r++ {
		row, drow := tape[r*w:(r+1)*w], dtape[r*w:(r+1)*w]
		cp := cprev[r*ldc : r*ldc+h]
		d := da[r*g4 : (r+1)*g4]
		for j := range h {
			c, i, f, g, o := row[h+j], row[2*h+j], row[3*h+j], row[4*h+j], row[5*h+j]
			tc := tanhT(c)
			dh := drow[j] + dhNext[r*h+j]
			dc := drow[h+j] + dcNext[r*h+j] + dh*o*(1-tc*tc)
			d[j] = dc * g * i * (1 - i)
			d[h+j] = dc * cp[j] * f * (1 - f)
			d[2*h+j] = dc * i * (1 - g*g)
			d[3*h+j] = dh * tc * o * (1 - o)
			dcNext[r*h+j] = dc * f
		}
	}
}

// lstmSeqGradKernel is backpropagation through time over the tape, from (whh, h0, c0,
// tape, dtape), into the packed gradients [T·B + H + B, 4H]: rows 0..T·B the input
// projections', then H rows of the recurrent weight's (transposed), then B rows
// [dh0 | dc0 | 0].
func lstmSeqGradKernel[T float](cell func(da, dhNext, dcNext, tape, dtape, cprev []T, ldc, lo, hi, h int)) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		steps := p.Op.(exec.LSTMSequenceGrad).Steps
		packed := data[T](p.Out)
		whh, h0, c0, tape, dtape := data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3]), data[T](p.In[4])
		h := p.In[0].Shape[1]
		b := p.In[3].Shape[0] / steps
		w, g4 := 6*h, 4*h
		da := packed[:steps*b*g4]                  // pre-activation gate gradients, time-major
		dwT := packed[steps*b*g4 : (steps*b+h)*g4] // [H, 4H]
		last := packed[(steps*b+h)*g4:]            // [B, 4H]: dh0 | dc0 | 0
		nextS := p.Scratch(dtypeOf[T](), 2*b*h)
		var t int
		var dhNext, dcNext []T
		body := func(lo, hi int) {
			cprev, ldc := c0, h
			if t > 0 {
				cprev, ldc = tape[(t-1)*b*w+h:], w
			}
			cell(da[t*b*g4:], dhNext, dcNext, tape[t*b*w:], dtape[t*b*w:], cprev, ldc, lo, hi, h)
		}
		return func() error {
			next := scratch[T](nextS)
			dhNext, dcNext = next[:b*h], next[b*h:]
			clear(next)
			for t = steps - 1; t >= 0; t-- {
				For(b, lstmRows(h), body)
				// dh_{t−1} = da_t · W_hh
				Gemm(false, false, b, h, g4, 1, da[t*b*g4:], g4, whh, h, 0, dhNext, h)
			}
			// dW_hhᵀ = Σ_t h_{t−1}ᵀ · da_t: h0 for the first step, the tape's h for the others.
			Gemm(true, false, h, g4, b, 1, h0, h, da, g4, 0, dwT, g4)
			if steps > 1 {
				Gemm(true, false, h, g4, (steps-1)*b, 1, tape, w, da[b*g4:], g4, 1, dwT, g4)
			}
			for r := range b {
				copy(last[r*g4:r*g4+h], dhNext[r*h:(r+1)*h])
				copy(last[r*g4+h:r*g4+2*h], dcNext[r*h:(r+1)*h])
				clear(last[r*g4+2*h : (r+1)*g4])
			}
			return nil
		}, nil
	}
}

// LSTMPackedLayout returns T·B, B and H of a packed gradient of shape s.
func LSTMPackedLayout(s []int, steps int) (tb, b, h int) {
	h = s[1] / 4
	b = (s[0] - h) / (steps + 1)
	return steps * b, b, h
}

// lstmUnpackKernel extracts one input's gradient from the packed matrix.
func lstmUnpackKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.LSTMUnpack)
	y, pk := data[T](p.Out), data[T](p.In[0])
	tb, b, h := LSTMPackedLayout(p.In[0].Shape, op.Steps)
	g4 := 4 * h
	return func() error {
		switch op.Part {
		case 0:
			copy(y, pk[:tb*g4])
		case 1: // stored transposed: [H, 4H] → [4H, H]
			dwT := pk[tb*g4 : (tb+h)*g4]
			for i := range g4 {
				for j := range h {
					y[i*h+j] = dwT[j*g4+i]
				}
			}
		default:
			off := (tb + h) * g4
			if op.Part == 3 {
				off += h
			}
			for r := range b {
				copy(y[r*h:(r+1)*h], pk[off+r*g4:off+r*g4+h])
			}
		}
		return nil
	}, nil
}

// LSTMPickRegion returns the first row, the number of rows and the first column of a
// tape part: 0 every h, 1 the last h, 2 the last c.
func LSTMPickRegion(part, steps, tb, h int) (row, rows, col int) {
	b := tb / steps
	switch part {
	case 0:
		return 0, tb, 0
	case 1:
		return tb - b, b, 0
	}
	return tb - b, b, h
}

// lstmPickKernel copies the part's [rows, h] block at (row, col) of a tape with 6h columns,
// or (Grad) scatters it into an otherwise zero tape.
func lstmPickKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.LSTMPick)
	tape, part := data[T](p.In[0]), data[T](p.Out)
	ts := p.In[0].Shape
	if op.Grad {
		tape, part = part, tape
		ts = p.Out.Shape
	}
	tb, h := ts[0], ts[1]/6
	row, rows, col := LSTMPickRegion(op.Part, op.Steps, tb, h)
	w := 6 * h
	return func() error {
		if op.Grad {
			clear(tape)
		}
		for r := range rows {
			t := tape[(row+r)*w+col : (row+r)*w+col+h]
			q := part[r*h : (r+1)*h]
			if op.Grad {
				copy(t, q)
			} else {
				copy(q, t)
			}
		}
		return nil
	}, nil
}
