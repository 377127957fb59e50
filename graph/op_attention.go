package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
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

func (op attnOp) spec() exec.Op { return op.kernelSpec() }

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

func (op attnOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op attnOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}

// kernelSpec is the executor's op for the attention function.
func (op attnOp) kernelSpec() exec.Op {
	a := op.a
	sh := exec.AttentionShape{Heads: a.Heads, Dim: a.Dim, Tq: a.Tq, Tk: a.Tk, QOff: a.QOff, KOff: a.KOff,
		VOff: a.VOff, Causal: a.Causal, Masked: op.masked}
	return [...]exec.Op{exec.AttentionProbs{AttentionShape: sh}, exec.AttentionApply{AttentionShape: sh},
		exec.AttentionProbsGradQ{AttentionShape: sh}, exec.AttentionProbsGradK{AttentionShape: sh},
		exec.AttentionApplyGradP{AttentionShape: sh}, exec.AttentionApplyGradV{AttentionShape: sh}}[op.kind]
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
