package graph

import (
	"fmt"
	"os"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
)

// Machine runs a compiled graph.
type Machine interface {
	Run() error
	// Host returns output i's memory ([]float32 or []float64), valid after Run.
	Host(i int) any
	Close() error
}

// Backend compiles the subgraph that computes outputs into a Machine.
type Backend interface {
	Name() string
	Compile(g *G.ExprGraph, outputs []*G.Node) (Machine, error)
}

// The backends: aigc's executor on a device (the default), and Gorgonia's TapeMachine,
// the reference the executor is tested against (AIGC_BACKEND=tape).
var (
	Executor Backend = execBackend{}
	Tape     Backend = tapeBackend{}
	backend          = Executor
	device           = cpu.Device
)

func init() {
	if os.Getenv("AIGC_BACKEND") == "tape" {
		backend = Tape
	}
}

// UseBackend makes b compile every program from now on and returns the previous backend.
func UseBackend(b Backend) Backend {
	prev := backend
	backend = b
	return prev
}

// UseDevice makes the executor compile programs for d from now on and returns the
// previous device.
func UseDevice(d exec.Device) exec.Device {
	prev := device
	device = d
	return prev
}

// BackendName names the machine that runs compiled programs.
func BackendName() string { return backend.Name() }

// execBackend runs programs on aigc's executor.
type execBackend struct{}

func (execBackend) Name() string { return "aigc-exec on " + device.Name() }

func (execBackend) Compile(sub *G.ExprGraph, outputs []*G.Node) (Machine, error) {
	g, err := lower(sub, outputs)
	if err != nil {
		return nil, err
	}
	p, err := exec.Compile(device, g)
	if err != nil {
		return nil, err
	}
	return execMachine{p}, nil
}

type execMachine struct{ *exec.Program }

func (m execMachine) Host(i int) any { return m.Output(i) }

// tapeBackend runs programs on Gorgonia's TapeMachine, each op through its reference CPU
// kernel.
type tapeBackend struct{}

func (tapeBackend) Name() string { return "gorgonia-tape" }

func (tapeBackend) Compile(sub *G.ExprGraph, outputs []*G.Node) (m Machine, err error) {
	defer func() { // NewTapeMachine panics when compilation fails
		if r := recover(); r != nil {
			err = fmt.Errorf("compiling graph: %v", r)
		}
	}()
	return &tapeMachine{m: G.NewTapeMachine(sub), outputs: outputs}, nil
}

type tapeMachine struct {
	m       G.VM
	outputs []*G.Node
}

func (t *tapeMachine) Run() error {
	defer t.m.Reset()
	return t.m.RunAll()
}

func (t *tapeMachine) Host(i int) any {
	v, err := denseOrScalar(t.outputs[i].Value())
	if err != nil {
		panic(fmt.Sprintf("graph: output %d (%v): %v", i, t.outputs[i], err))
	}
	return hostOf(v)
}

func (t *tapeMachine) Close() error { return t.m.Close() }

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
	if backend == Tape {
		var err error
		if outputs, err = protect(outputs); err != nil {
			return nil, err
		}
	}
	sub := outputs[0].Graph().SubgraphRoots(outputs...)
	m, err := backend.Compile(sub, outputs)
	if err != nil {
		return nil, err
	}
	return &Program{m: m, outputs: outputs, flops: countFLOPs(sub)}, nil
}

// protect replaces each output that other nodes of the program read by a copy of it that
// nothing reads (see keepOp): the TapeMachine may overwrite it otherwise. The executor
// plans outputs' memory itself.
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
func (p *Program) Run() error { return p.m.Run() }

// Output returns the value of output i after Run (a tensor of the output's shape over
// the program's memory: copy what must outlive the next Run).
func (p *Program) Output(i int) *tensor.Dense {
	shape := p.outputs[i].Shape()
	if shape.IsScalar() {
		shape = tensor.Shape{1}
	}
	return tensor.New(tensor.WithBacking(p.m.Host(i)), tensor.WithShape(shape...))
}

// Float returns output i, a scalar, after Run.
func (p *Program) Float(i int) float64 {
	switch h := p.m.Host(i).(type) {
	case []float32:
		return float64(h[0])
	case []float64:
		return h[0]
	}
	panic(fmt.Sprintf("graph: output %d (%v) is not a float", i, p.outputs[i]))
}

// Floats returns output i as float32 data after Run.
func (p *Program) Floats(i int) []float32 { return p.m.Host(i).([]float32) }

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

// ToHost makes host memory bound to the device (parameters, optimiser state) hold what the
// device has computed into it, before the host reads it: saving a checkpoint. ToDevice is
// the reverse, after the host wrote it: loading one. Both are no-ops on the CPU, which
// computes in the host memory itself.
func ToHost(hosts ...[]float32) error { return syncHost(hosts, exec.Device.CopyOut) }

// ToDevice copies host memory into the device's buffers bound to it (see ToHost).
func ToDevice(hosts ...[]float32) error { return syncHost(hosts, exec.Device.CopyIn) }

func syncHost(hosts [][]float32, copyFn func(exec.Device, exec.Buffer) error) error {
	for _, h := range hosts {
		b, err := device.Bind(h)
		if err != nil {
			return err
		}
		err = copyFn(device, b)
		device.Free(b)
		if err != nil {
			return err
		}
	}
	return nil
}
