package graph

import (
	"fmt"
	"strings"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
)

// lower turns the subgraph that computes outputs into the executor's graph: nodes in
// Gorgonia's execution order (the TapeMachine's), each of aigc's Ops as its catalog op, the
// sums Gorgonia inserts where a value's gradient has several terms as Add, parameters and
// inputs as leaves bound to their tensors, constants as leaves holding their value.
func lower(sub *G.ExprGraph, outputs []*G.Node) (*exec.Graph, error) {
	sorted, err := G.Sort(sub)
	if err != nil {
		return nil, err
	}
	g := &exec.Graph{}
	index := map[*G.Node]int{}
	var unknown []string
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		var ins []int
		for it := sub.From(n.ID()); it.Next(); {
			ins = append(ins, index[it.Node().(*G.Node)])
		}
		dt, err := execType(n.Dtype())
		if err != nil {
			return nil, fmt.Errorf("%v: %w", n, err)
		}
		shape := []int(n.Shape())
		switch op := n.Op().(type) {
		case nil: // a parameter or an input
			t, ok := n.Value().(*tensor.Dense)
			if !ok {
				return nil, fmt.Errorf("%v: an input without a tensor", n)
			}
			index[n] = g.Leaf(hostOf(t), !isParam(t), shape...)
		case kernelOp:
			ins, err = withState(g, op, ins)
			if err != nil {
				return nil, fmt.Errorf("%v: %w", n, err)
			}
			index[n] = g.Apply(op.spec(), op.String(), dt, shape, ins...)
		default:
			switch {
			case len(ins) == 0 && n.Value() != nil: // a constant
				t, err := denseOrScalar(n.Value())
				if err != nil {
					return nil, fmt.Errorf("%v: %w", n, err)
				}
				index[n] = g.Leaf(hostOf(t.Clone().(*tensor.Dense)), false, shape...)
			case isGradientSum(n, sub):
				index[n] = g.Apply(exec.Add{}, "Add", dt, shape, ins...)
			default:
				unknown = append(unknown, fmt.Sprintf("%v (%T)", op, op))
				index[n] = g.Apply(unsupported{name: op.String()}, op.String(), dt, shape, ins...)
			}
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("no executor op for Gorgonia's %s", strings.Join(unknown, ", "))
	}
	for _, o := range outputs {
		g.Outputs = append(g.Outputs, index[o])
	}
	return g, nil
}

// withState appends the leaves an op reads and writes besides its inputs.
func withState(g *exec.Graph, op kernelOp, ins []int) ([]int, error) {
	s, ok := op.(stateOp)
	if !ok {
		return ins, nil
	}
	for _, t := range s.state() {
		ins = append(ins, g.Leaf(hostOf(t), false, t.Shape()...))
	}
	return ins, nil
}

// isGradientSum reports whether n is one of the additions Gorgonia's differentiation
// inserts to sum a value's gradient terms: its + of two tensors of one shape.
func isGradientSum(n *G.Node, g *G.ExprGraph) bool {
	if !strings.HasPrefix(n.Op().String(), "+") {
		return false
	}
	var shapes []tensor.Shape
	for it := g.From(n.ID()); it.Next(); {
		shapes = append(shapes, it.Node().(*G.Node).Shape())
	}
	return len(shapes) == 2 && shapes[0].Eq(shapes[1]) && shapes[0].Eq(n.Shape())
}

// unsupported stands for an op lower cannot translate; Compile reports it.
type unsupported struct{ name string }

func (u unsupported) Kind() string { return "Gorgonia:" + u.name }

// hostOf returns a tensor's memory as a []float32 or []float64 (scalars included).
func hostOf(t *tensor.Dense) any {
	if t.Dtype() == tensor.Float64 {
		return t.Float64s()
	}
	return t.Float32s()
}

// params records the tensors of parameters (and buffers): leaves that live on the device
// for the whole run, shared by every program. Other leaves are inputs the caller fills
// between runs.
var params sync.Map // *tensor.Dense → bool

func isParam(t *tensor.Dense) bool {
	_, ok := params.Load(t)
	return ok
}
