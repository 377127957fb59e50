package graph

import (
	"fmt"
	"hash"
	"hash/fnv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pure supplies the Op methods that are the same for all of aigc's Ops: each returns a
// new value (possibly written into memory the machine preallocated), overwrites no
// input, and calls no external code the machine must batch.
type pure struct{}

func (pure) ReturnsPtr() bool     { return false }
func (pure) CallsExtern() bool    { return false }
func (pure) OverwritesInput() int { return -1 }

// sameShape is InferShape for Ops whose output has the shape of their first input.
func sameShape(ds []G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	return ss[0].Clone(), nil
}

// hashOf implements Op.Hashcode from Op.WriteHash. Gorgonia deduplicates nodes whose op
// hash and children agree, so WriteHash must include every attribute of an Op.
func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// dense returns v as a contiguous dense tensor, materialising views.
func dense(v G.Value) (*tensor.Dense, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("expected a dense tensor, got %T", v)
	}
	if t.IsMaterializable() {
		return t.Materialize().(*tensor.Dense), nil
	}
	return t, nil
}

// scalarOf returns a scalar value (a Gorgonia scalar or a one-element tensor) as float64.
func scalarOf(v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F32:
		return float64(*s), nil
	case *G.F64:
		return float64(*s), nil
	case *tensor.Dense:
		if s.Size() != 1 {
			return 0, fmt.Errorf("expected a scalar, got shape %v", s.Shape())
		}
		switch d := s.Data().(type) {
		case []float32:
			return float64(d[0]), nil
		case []float64:
			return d[0], nil
		case float32:
			return float64(d), nil
		case float64:
			return d, nil
		}
	}
	return 0, fmt.Errorf("expected a float scalar, got %T", v)
}

// output returns prealloc when it already has the wanted dtype and shape, so that a
// machine running the same program again reuses its memory; otherwise a new tensor.
func output(prealloc G.Value, dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	if t, ok := prealloc.(*tensor.Dense); ok && t.Dtype() == dt && t.Shape().Eq(shape) && !t.IsView() {
		return t
	}
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape.Clone()...))
}

// shapesOf converts the DimSizers Gorgonia passes to InferShape.
func shapesOf(ds []G.DimSizer) ([]tensor.Shape, error) {
	return G.DimSizersToShapes(ds)
}

// b2i is 1 for true, 0 for false.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
