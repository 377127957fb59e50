package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Machine runs a compiled graph. Gorgonia's TapeMachine is the first implementation;
// aigc's own executor and its CUDA backend will be others.
type Machine interface {
	RunAll() error
	Reset()
	Close() error
}

// Backend compiles a graph (already cut down to what its outputs need) into a Machine.
type Backend interface {
	Name() string
	Compile(g *G.ExprGraph) (Machine, error)
}

// tapeBackend runs graphs on Gorgonia's TapeMachine.
type tapeBackend struct{}

func (tapeBackend) Name() string { return "gorgonia-tape" }

func (tapeBackend) Compile(g *G.ExprGraph) (m Machine, err error) {
	defer func() { // NewTapeMachine panics when compilation fails
		if r := recover(); r != nil {
			err = fmt.Errorf("compiling graph: %v", r)
		}
	}()
	return G.NewTapeMachine(g), nil
}

var backend Backend = tapeBackend{}

// BackendName names the machine that runs compiled programs.
func BackendName() string { return backend.Name() }

// Program is a compiled computation: bind its inputs once (Input, Feed), then Run it as
// often as needed and read its outputs. Only the subgraph its outputs need is compiled.
type Program struct {
	m       Machine
	outputs []*G.Node
	flops   int64
}

// Compile compiles the part of the outputs' graph that computes them.
func Compile(outputs ...*G.Node) (*Program, error) {
	if len(outputs) == 0 {
		return nil, fmt.Errorf("compile: no outputs")
	}
	outputs, err := protect(outputs)
	if err != nil {
		return nil, err
	}
	sub := outputs[0].Graph().SubgraphRoots(outputs...)
	m, err := backend.Compile(sub)
	if err != nil {
		return nil, err
	}
	return &Program{m: m, outputs: outputs, flops: countFLOPs(sub)}, nil
}

// protect replaces each output that other nodes of the program read by a copy of it that
// nothing reads (see keepOp).
func protect(outputs []*G.Node) ([]*G.Node, error) {
	g := outputs[0].Graph()
	read := map[*G.Node]bool{}
	for _, n := range g.SubgraphRoots(outputs...).AllNodes() {
		for it := g.From(n.ID()); it.Next(); {
			read[it.Node().(*G.Node)] = true
		}
	}
	safe := make([]*G.Node, len(outputs))
	for i, n := range outputs {
		safe[i] = n
		if read[n] {
			var err error
			if safe[i], err = keep(n); err != nil {
				return nil, err
			}
		}
	}
	return safe, nil
}

// Run executes the program once.
func (p *Program) Run() error {
	defer p.m.Reset()
	return p.m.RunAll()
}

// Output returns the value of output i after Run.
func (p *Program) Output(i int) *tensor.Dense {
	v, _ := p.outputs[i].Value().(*tensor.Dense)
	return v
}

// Float returns output i, a scalar, after Run.
func (p *Program) Float(i int) float64 {
	v, err := scalarOf(p.outputs[i].Value())
	if err != nil {
		panic(fmt.Sprintf("graph: output %d (%v): %v", i, p.outputs[i], err))
	}
	return v
}

// Floats returns output i as float32 data after Run.
func (p *Program) Floats(i int) []float32 { return p.Output(i).Data().([]float32) }

// FLOPs is the floating-point work of one Run counted in its matrix products and
// convolutions (the terms that dominate; elementwise work is not counted).
func (p *Program) FLOPs() int64 { return p.flops }

// Close releases the machine.
func (p *Program) Close() error { return p.m.Close() }

// flopCounter is implemented by Ops whose work is worth counting.
type flopCounter interface {
	flops(in []tensor.Shape) int64
}

func countFLOPs(g *G.ExprGraph) int64 {
	var total int64
	for _, n := range g.AllNodes() {
		fc, ok := n.Op().(flopCounter)
		if !ok {
			continue
		}
		var shapes []tensor.Shape
		for it := g.From(n.ID()); it.Next(); {
			shapes = append(shapes, it.Node().(*G.Node).Shape())
		}
		total += fc.flops(shapes)
	}
	return total
}
