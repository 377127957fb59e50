package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Multi-head scaled dot-product attention (Vaswani et al. 2017) as two fused Ops:
//
//	P = AttentionProbs(q, k)   softmax(q_h·k_hᵀ/√d + mask) for every sequence and head h
//	Y = AttentionApply(P, v)   P_h·v_h, the heads side by side
//
// Queries, keys and values are read as column blocks of their matrices, so one projection
// can produce all three (GPT's c_attn, [B·T, 3C]) or a decoder can attend to an encoder's
// keys and values ([B·S, 2C]). Rows are sequence-major: row b·T + t is position t of
// sequence b. P is [B·heads·Tq, Tk], kept for the backward pass.

// Attention describes one attention: heads, sequence lengths, and where q, k and v start
// among their matrices' columns.
type Attention struct {
	Heads, Dim int  // heads and model width C (each head has C/heads dimensions)
	Tq, Tk     int  // query and key positions per sequence
	QOff, KOff int  // first column of q in its matrix, of k in its
	VOff       int  // first column of v in its matrix
	Causal     bool // position t attends to keys at positions ≤ t only
}

// Probs returns the attention probabilities of queries q and keys k. mask, when not nil,
// is a [B, Tk] matrix of 1 (attend) and 0 (padding: never attended to).
func (a Attention) Probs(q, k, mask *G.Node) *G.Node {
	ins := []*G.Node{q, k}
	if mask != nil {
		ins = append(ins, mask)
	}
	return must(G.ApplyOp(attnOp{a: a, kind: attnProbs, masked: mask != nil}, ins...))
}

// Apply returns P·v, [B·Tq, C].
func (a Attention) Apply(p, v *G.Node) *G.Node {
	return must(G.ApplyOp(attnOp{a: a, kind: attnApply}, p, v))
}

type attnKind int

const (
	attnProbs      attnKind = iota // (q, k[, mask]) → P
	attnApply                      // (P, v) → Y
	attnProbsGradQ                 // (q, k, P, dP) → dq, shaped like q
	attnProbsGradK                 // (q, k, P, dP) → dk, shaped like k
	attnApplyGradP                 // (v, dY) → dP
	attnApplyGradV                 // (P, dY, v) → dv, shaped like v
)

var attnNames = [...]string{"AttentionProbs", "AttentionApply", "AttentionProbsGradQ",
	"AttentionProbsGradK", "AttentionApplyGradP", "AttentionApplyGradV"}

type attnOp struct {
	pure
	a      Attention
	kind   attnKind
	masked bool
}

func (op attnOp) Arity() int {
	switch op.kind {
	case attnProbs:
		if op.masked {
			return 3
		}
		return 2
	case attnApply, attnApplyGradP:
		return 2
	case attnApplyGradV:
		return 3
	}
	return 4
}
func (op attnOp) Type() hm.Type { return matrixType(op.Arity()) }

// batches returns the number of sequences B given the row count of a [B·T, ·] matrix.
func (op attnOp) batches(rows, t int) (int, error) {
	if t <= 0 || rows%t != 0 {
		return 0, fmt.Errorf("%v: %d rows are not whole sequences of %d", op, rows, t)
	}
	return rows / t, nil
}

func (op attnOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	a := op.a
	if a.Heads <= 0 || a.Dim%a.Heads != 0 {
		return nil, fmt.Errorf("%v: %d heads do not divide width %d", op, a.Heads, a.Dim)
	}
	for _, s := range ss {
		if s.Dims() != 2 {
			return nil, fmt.Errorf("%v: inputs must be matrices, got %v", op, s)
		}
	}
	switch op.kind {
	case attnProbs:
		b, err := op.batches(ss[0][0], a.Tq)
		if err != nil {
			return nil, err
		}
		if ss[0][1] < a.QOff+a.Dim || ss[1][1] < a.KOff+a.Dim || ss[1][0] != b*a.Tk {
			return nil, fmt.Errorf("%v: q %v and k %v do not hold %d sequences of width %d at columns %d and %d",
				op, ss[0], ss[1], b, a.Dim, a.QOff, a.KOff)
		}
		if op.masked && !ss[2].Eq(tensor.Shape{b, a.Tk}) {
			return nil, fmt.Errorf("%v: mask %v, want [%d, %d]", op, ss[2], b, a.Tk)
		}
		return tensor.Shape{b * a.Heads * a.Tq, a.Tk}, nil
	case attnApply:
		b, err := op.batches(ss[0][0], a.Heads*a.Tq)
		if err != nil {
			return nil, err
		}
		if ss[0][1] != a.Tk || ss[1][0] != b*a.Tk || ss[1][1] < a.VOff+a.Dim {
			return nil, fmt.Errorf("%v: probabilities %v and v %v do not fit", op, ss[0], ss[1])
		}
		return tensor.Shape{b * a.Tq, a.Dim}, nil
	case attnProbsGradQ:
		return ss[0].Clone(), nil
	case attnProbsGradK:
		return ss[1].Clone(), nil
	case attnApplyGradP:
		b := ss[1][0] / a.Tq
		return tensor.Shape{b * a.Heads * a.Tq, a.Tk}, nil
	}
	return ss[2].Clone(), nil // attnApplyGradV: like v
}

func (op attnOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op attnOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	ds := make([]G.DimSizer, len(ts))
	for i, t := range ts {
		ds[i] = t.Shape()
	}
	shape, err := op.InferShape(ds...)
	if err != nil {
		return nil, err
	}
	y := output(prealloc, ts[0].Dtype(), shape)
	widths := make([]int, len(ts))
	for i, t := range ts {
		widths[i] = t.Shape()[1]
	}
	switch ts[0].Dtype() {
	case tensor.Float32:
		attnRun(op, y.Float32s(), widths, float32s(ts)...)
	case tensor.Float64:
		attnRun(op, y.Float64s(), widths, float64s(ts)...)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, ts[0].Dtype())
	}
	return y, nil
}

func (op attnOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.%s{%+v,%v}", attnNames[op.kind], op.a, op.masked)
}
func (op attnOp) Hashcode() uint32 { return hashOf(op) }
func (op attnOp) String() string   { return attnNames[op.kind] }

func (op attnOp) DiffWRT(int) []bool {
	switch op.kind {
	case attnProbs:
		return []bool{true, true, false}[:op.Arity()]
	case attnApply:
		return []bool{true, true}
	}
	return make([]bool, op.Arity())
}

func (op attnOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	apply := func(k attnKind, ns ...*G.Node) (*G.Node, error) {
		return G.ApplyOp(attnOp{a: op.a, kind: k}, ns...)
	}
	switch op.kind {
	case attnProbs:
		dq, err := apply(attnProbsGradQ, in[0], in[1], out, grad)
		if err != nil {
			return nil, err
		}
		dk, err := apply(attnProbsGradK, in[0], in[1], out, grad)
		res := G.Nodes{dq, dk}
		if op.masked {
			res = append(res, nil)
		}
		return res, err
	case attnApply:
		dp, err := apply(attnApplyGradP, in[1], grad)
		if err != nil {
			return nil, err
		}
		dv, err := apply(attnApplyGradV, in[0], grad, in[1])
		return G.Nodes{dp, dv}, err
	}
	return nil, fmt.Errorf("%v has no gradient", op)
}

// attnRun computes one of the attention functions; widths are the inputs' column counts.
func attnRun[T float](op attnOp, y []T, widths []int, in ...[]T) {
	a := op.a
	d := a.Dim / a.Heads
	tq, tk := a.Tq, a.Tk
	scale := 1 / math.Sqrt(float64(d))
	switch op.kind {
	case attnProbs, attnApply, attnApplyGradP:
	default:
		clear(y) // gradients with respect to q, k or v fill only their own columns
	}
	var b int
	switch op.kind {
	case attnProbs, attnProbsGradQ, attnProbsGradK:
		b = len(in[0]) / widths[0] / tq
	case attnApply, attnApplyGradV:
		b = len(in[0]) / tk / (a.Heads * tq)
	case attnApplyGradP:
		b = len(in[1]) / widths[1] / tq
	}
	parallelFor(b*a.Heads, 1, func(lo, hi int) {
		tmp := make([]T, tq*tk)
		for bh := lo; bh < hi; bh++ {
			s, h := bh/a.Heads, bh%a.Heads
			p := func(buf []T) []T { return buf[bh*tq*tk : (bh+1)*tq*tk] } // this head's [Tq, Tk] block
			switch op.kind {
			case attnProbs:
				q, k := in[0], in[1]
				wq, wk := widths[0], widths[1]
				out := p(y)
				// scores = q_h·k_hᵀ·scale
				gemm(false, true, tq, tk, d, scale, q[s*tq*wq+a.QOff+h*d:], wq, k[s*tk*wk+a.KOff+h*d:], wk, 0, out, tk)
				var mask []T
				if op.masked {
					mask = in[2][s*tk : (s+1)*tk]
				}
				softmaxRows(out, tq, tk, a.Causal, mask)
			case attnApply:
				v, wv := in[1], widths[1]
				// y_h = P_h·v_h, written into the head's columns of the output rows
				gemm(false, false, tq, d, tk, 1, p(in[0]), tk, v[s*tk*wv+a.VOff+h*d:], wv, 0, y[s*tq*a.Dim+h*d:], a.Dim)
			case attnApplyGradP:
				v, dy := in[0], in[1]
				wv := widths[0]
				// dP_h = dY_h·v_hᵀ
				gemm(false, true, tq, tk, d, 1, dy[s*tq*a.Dim+h*d:], a.Dim, v[s*tk*wv+a.VOff+h*d:], wv, 0, p(y), tk)
			case attnApplyGradV:
				dy, wv := in[1], widths[2]
				// dv_h = P_hᵀ·dY_h
				gemm(true, false, tk, d, tq, 1, p(in[0]), tk, dy[s*tq*a.Dim+h*d:], a.Dim, 0, y[s*tk*wv+a.VOff+h*d:], wv)
			case attnProbsGradQ, attnProbsGradK:
				q, k, pr, dp := in[0], in[1], p(in[2]), p(in[3])
				wq, wk := widths[0], widths[1]
				// dS = P ⊙ (dP − rowsum(dP ⊙ P)), then the scores' product rule.
				for i := range tq {
					var dot float64
					for j := range tk {
						dot += float64(dp[i*tk+j]) * float64(pr[i*tk+j])
					}
					for j := range tk {
						tmp[i*tk+j] = pr[i*tk+j] * (dp[i*tk+j] - T(dot))
					}
				}
				if op.kind == attnProbsGradQ { // dq_h = dS·k_h·scale
					gemm(false, false, tq, d, tk, scale, tmp, tk, k[s*tk*wk+a.KOff+h*d:], wk, 0, y[s*tq*wq+a.QOff+h*d:], wq)
				} else { // dk_h = dSᵀ·q_h·scale
					gemm(true, false, tk, d, tq, scale, tmp, tk, q[s*tq*wq+a.QOff+h*d:], wq, 0, y[s*tk*wk+a.KOff+h*d:], wk)
				}
			}
		}
	})
}

// softmaxRows turns each row of scores into probabilities, in place: with causal, row i
// keeps columns ≤ i; with a mask, only columns whose mask is 1. A row with nothing to
// attend to becomes all zeros.
func softmaxRows[T float](s []T, rows, cols int, causal bool, mask []T) {
	for i := range rows {
		row := s[i*cols : (i+1)*cols]
		keep := func(j int) bool { return (!causal || j <= i) && (mask == nil || mask[j] != 0) }
		m := math.Inf(-1)
		for j, v := range row {
			if keep(j) && float64(v) > m {
				m = float64(v)
			}
		}
		if math.IsInf(m, -1) {
			clear(row)
			continue
		}
		var sum float64
		for j, v := range row {
			if keep(j) {
				e := math.Exp(float64(v) - m)
				row[j] = T(e)
				sum += e
			} else {
				row[j] = 0
			}
		}
		for j := range row {
			row[j] = T(float64(row[j]) / sum)
		}
	}
}
