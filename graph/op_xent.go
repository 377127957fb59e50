package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SoftmaxCrossEntropy returns, for logits of shape [N, K] and labels [N] holding class
// indices 0..K−1 as floats, the cross-entropy of softmax(logits[r]) against class
// labels[r] for every row r: logsumexp(logits[r]) − logits[r, labels[r]], a [N] vector
// (torch.nn.functional.cross_entropy with reduction='none'). The row maximum is subtracted
// before exponentiating, so any finite logits give a finite loss. The gradient with respect
// to the logits is (softmax(logits[r]) − onehot(labels[r]))·g[r]; the labels get none. A
// label that is not an integer in [0, K) makes the run fail with an error naming its row.
//
// The row statistics (maximum and log of the shifted sum of exponentials) are a node of
// their own, [N, 2], read by the loss and by its gradient: the backward pass takes one
// exponential per logit, keeps no state outside the graph, and always runs after the
// statistics of the same Run, which are among its inputs.
func SoftmaxCrossEntropy(logits, labels *G.Node) *G.Node {
	stats := must(G.ApplyOp(xentStatsOp{}, logits))
	return must(G.ApplyOp(xentOp{}, logits, labels, stats))
}

// xentMinRows is the number of rows of k logits worth a thread.
func xentMinRows(k int) int { return max(1, 16384/max(k, 1)) }

// xentCheck validates logits [N, K], labels [N] and (when given) row statistics [N, 2].
func xentCheck(op fmt.Stringer, ss []tensor.Shape) error {
	l := ss[0]
	if l.Dims() != 2 || l[1] < 1 {
		return fmt.Errorf("%v: logits must be [N, K] with K ≥ 1, got %v", op, l)
	}
	if len(ss) > 1 && (ss[1].Dims() != 1 || ss[1][0] != l[0]) {
		return fmt.Errorf("%v: labels of shape %v do not fit logits %v (want [%d])", op, ss[1], l, l[0])
	}
	if len(ss) > 2 && (ss[2].Dims() != 2 || ss[2][0] != l[0] || ss[2][1] != 2) {
		return fmt.Errorf("%v: row statistics of shape %v do not fit logits %v (want [%d 2])", op, ss[2], l, l[0])
	}
	return nil
}

// xentLabel returns label v of row r as an index into k classes, or an error.
func xentLabel[T float](op fmt.Stringer, v T, r, k int) (int, error) {
	f := float64(v)
	if !(f >= 0 && f < float64(k) && f == math.Trunc(f)) {
		return 0, fmt.Errorf("%v: label %v of row %d is not a class index in [0, %d)", op, f, r, k)
	}
	return int(f), nil
}

// xentLabels checks every label before any work is done.
func xentLabels[T float](op fmt.Stringer, labels []T, k int) error {
	for r, v := range labels {
		if _, err := xentLabel(op, v, r, k); err != nil {
			return err
		}
	}
	return nil
}

// isFloat32 reports whether T is float32 (the models' type, for which a faster
// exponential is accurate enough).
func isFloat32[T float]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// expNeg32 is e^x to a relative error of about 1e-9 (far below float32's resolution) for
// x ≤ 0, the arguments softmax needs; it is exact for 0, returns 0 below −708 and NaN for
// NaN. It is Cephes' expf polynomial evaluated in float64, about twice as fast as math.Exp.
func expNeg32(x float64) float64 {
	if !(x > -708) {
		if x != x {
			return x
		}
		return 0
	}
	const magic = 0x1.8p52 // adding it rounds to an integer k, held in the low bits
	kf := x*math.Log2E + magic
	k := kf - magic
	r := x - k*0.693145751953125 - k*1.42860682030941723212e-6
	// 1 + r + r²·(c0 + c1·r + … + c5·r⁵), the polynomial in Estrin's form so that its
	// terms evaluate in parallel
	r2 := r * r
	p01 := 5.0000001201e-1 + 1.6666665459e-1*r
	p23 := 4.1665795894e-2 + 8.3334519073e-3*r
	p45 := 1.3981999507e-3 + 1.9875691500e-4*r
	y := (p01+r2*(p23+r2*p45))*r2 + r + 1
	return y * math.Float64frombits((math.Float64bits(kf)+1023)<<52) // y·2^k
}

// sumExp returns Σ e^(x−m) over a row, in float64.
func sumExp[T float](row []T, m float64) float64 {
	var s0, s1 float64
	i := 0
	if isFloat32[T]() {
		for ; i+2 <= len(row); i += 2 {
			s0 += expNeg32(float64(row[i]) - m)
			s1 += expNeg32(float64(row[i+1]) - m)
		}
	} else {
		for ; i+2 <= len(row); i += 2 {
			s0 += math.Exp(float64(row[i]) - m)
			s1 += math.Exp(float64(row[i+1]) - m)
		}
	}
	for ; i < len(row); i++ {
		s0 += math.Exp(float64(row[i]) - m)
	}
	return s0 + s1
}

// xentStatsOp computes, for each row of the logits, its maximum m and log Σ e^(x−m).
type xentStatsOp struct{ pure }

func (op xentStatsOp) Arity() int { return 1 }
func (op xentStatsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(m, m)
}
func (op xentStatsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := xentCheck(op, ss); err != nil {
		return nil, err
	}
	return tensor.Shape{ss[0][0], 2}, nil
}
func (op xentStatsOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op xentStatsOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	l := ts[0]
	n, k := l.Shape()[0], l.Shape()[1]
	st := output(prealloc, l.Dtype(), tensor.Shape{n, 2})
	switch l.Dtype() {
	case tensor.Float32:
		xentStats(st.Float32s(), l.Float32s(), k)
	case tensor.Float64:
		xentStats(st.Float64s(), l.Float64s(), k)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, l.Dtype())
	}
	return st, nil
}
func (op xentStatsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.SoftmaxCrossEntropyStats") }
func (op xentStatsOp) Hashcode() uint32      { return hashOf(op) }
func (op xentStatsOp) String() string        { return "SoftmaxCrossEntropyStats" }

// The statistics are differentiated through the loss: xentOp's SymDiff accounts for them.
func (op xentStatsOp) DiffWRT(int) []bool { return []bool{false} }
func (op xentStatsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v is differentiated through SoftmaxCrossEntropy", op)
}

func xentStats[T float](st, l []T, k int) {
	parallelFor(len(st)/2, xentMinRows(k), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := l[r*k : (r+1)*k]
			m := rowMax(row)
			st[2*r] = m
			st[2*r+1] = T(math.Log(sumExp(row, float64(m))))
		}
	})
}

// rowMax returns the largest element of a non-empty row, ignoring NaNs (which make the sum
// of exponentials, and so the loss, NaN anyway).
func rowMax[T float](row []T) T {
	m0, m1, m2, m3 := row[0], row[0], row[0], row[0]
	i := 1
	for ; i+4 <= len(row); i += 4 {
		if row[i] > m0 {
			m0 = row[i]
		}
		if row[i+1] > m1 {
			m1 = row[i+1]
		}
		if row[i+2] > m2 {
			m2 = row[i+2]
		}
		if row[i+3] > m3 {
			m3 = row[i+3]
		}
	}
	for ; i < len(row); i++ {
		if row[i] > m0 {
			m0 = row[i]
		}
	}
	if m1 > m0 {
		m0 = m1
	}
	if m3 > m2 {
		m2 = m3
	}
	if m2 > m0 {
		m0 = m2
	}
	return m0
}

// xentOp is the per-row loss from the logits, labels and row statistics:
// log Σ e^(x−m) − (x[label] − m).
type xentOp struct{ pure }

func (op xentOp) Arity() int { return 3 }
func (op xentOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	v := G.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(m, v, m, v)
}
func (op xentOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := xentCheck(op, ss); err != nil {
		return nil, err
	}
	return tensor.Shape{ss[0][0]}, nil
}
func (op xentOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op xentOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 3, vs)
	if err != nil {
		return nil, err
	}
	l, lab, st := ts[0], ts[1], ts[2]
	n, k := l.Shape()[0], l.Shape()[1]
	out := output(prealloc, l.Dtype(), tensor.Shape{n})
	switch l.Dtype() {
	case tensor.Float32:
		err = xentLoss(op, out.Float32s(), l.Float32s(), lab.Float32s(), st.Float32s(), k)
	case tensor.Float64:
		err = xentLoss(op, out.Float64s(), l.Float64s(), lab.Float64s(), st.Float64s(), k)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, l.Dtype())
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
func (op xentOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.SoftmaxCrossEntropy") }
func (op xentOp) Hashcode() uint32      { return hashOf(op) }
func (op xentOp) String() string        { return "SoftmaxCrossEntropy" }

// DiffWRT: the logits only; the gradient through the row statistics is part of theirs.
func (op xentOp) DiffWRT(int) []bool { return []bool{true, false, false} }
func (op xentOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dl, err := G.ApplyOp(xentGradOp{}, in[0], in[1], in[2], grad)
	return G.Nodes{dl, nil, nil}, err
}

func xentLoss[T float](op fmt.Stringer, out, l, labels, st []T, k int) error {
	if err := xentLabels(op, labels, k); err != nil {
		return err
	}
	for r, v := range labels {
		out[r] = T(float64(st[2*r+1]) - (float64(l[r*k+int(v)]) - float64(st[2*r])))
	}
	return nil
}

// xentGradOp computes dl[r, i] = (e^(l[r,i]−m−lse) − [i = label[r]])·g[r] from the logits,
// labels, row statistics and g.
type xentGradOp struct{ pure }

func (op xentGradOp) Arity() int { return 4 }
func (op xentGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	m := G.TensorType{Dims: 2, Of: a}
	v := G.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(m, v, m, v, m)
}
func (op xentGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := xentCheck(op, ss[:3]); err != nil {
		return nil, err
	}
	if !ss[3].Eq(ss[1]) {
		return nil, fmt.Errorf("%v: gradient %v does not fit logits %v (want [%d])", op, ss[3], ss[0], ss[0][0])
	}
	return ss[0].Clone(), nil
}
func (op xentGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op xentGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 4, vs)
	if err != nil {
		return nil, err
	}
	l, lab, st, g := ts[0], ts[1], ts[2], ts[3]
	k := l.Shape()[1]
	dl := output(prealloc, l.Dtype(), l.Shape())
	switch l.Dtype() {
	case tensor.Float32:
		err = xentGrad(op, dl.Float32s(), l.Float32s(), lab.Float32s(), st.Float32s(), g.Float32s(), k)
	case tensor.Float64:
		err = xentGrad(op, dl.Float64s(), l.Float64s(), lab.Float64s(), st.Float64s(), g.Float64s(), k)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, l.Dtype())
	}
	if err != nil {
		return nil, err
	}
	return dl, nil
}
func (op xentGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "aigc.SoftmaxCrossEntropyGrad") }
func (op xentGradOp) Hashcode() uint32      { return hashOf(op) }
func (op xentGradOp) String() string        { return "SoftmaxCrossEntropyGrad" }

func xentGrad[T float](op fmt.Stringer, dl, l, labels, st, g []T, k int) error {
	if err := xentLabels(op, labels, k); err != nil {
		return err
	}
	f32 := isFloat32[T]()
	parallelFor(len(labels), xentMinRows(k), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, out := l[r*k:(r+1)*k], dl[r*k:(r+1)*k]
			m, lse, gr := float64(st[2*r]), float64(st[2*r+1]), float64(g[r])
			if f32 {
				for i, v := range row {
					out[i] = T(expNeg32(float64(v)-m-lse) * gr)
				}
			} else {
				for i, v := range row {
					out[i] = T(math.Exp(float64(v)-m-lse) * gr)
				}
			}
			// the label's term in float64, where p−1 does not cancel in float32
			j := int(labels[r])
			out[j] = T((math.Exp(float64(row[j])-m-lse) - 1) * gr)
		}
	})
	return nil
}
