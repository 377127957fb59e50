package exec

import (
	"fmt"
	"sort"
	"sync"
)

// DType is the element type of a value.
type DType uint8

const (
	Float32 DType = iota + 1 // models
	Float64                  // finite-difference gradient checks
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// DTypeOf returns the element type of host memory, a []float32 or a []float64.
func DTypeOf(host any) (DType, int, error) {
	switch h := host.(type) {
	case []float32:
		return Float32, len(h), nil
	case []float64:
		return Float64, len(h), nil
	}
	return 0, 0, fmt.Errorf("exec: host memory of type %T, want []float32 or []float64", host)
}

// Op is one operation: Kind names the kernel devices register for it; the value holds
// the attributes the kernel reads.
type Op interface{ Kind() string }

// InPlacer is implemented by ops whose kernel may write the output over the first input
// (same type and size): each output element is written only after every input element of
// the same index has been read.
type InPlacer interface{ InPlace() bool }

// Viewer is implemented by ops whose output is their first input's data under another
// shape: no kernel runs, the output shares the input's storage.
type Viewer interface{ View() bool }

func inPlace(op Op) bool { ip, ok := op.(InPlacer); return ok && ip.InPlace() }
func isView(op Op) bool  { v, ok := op.(Viewer); return ok && v.View() }

// Buffer is a device's memory for one value (or an arena, or part of one). Its concrete
// type is the device's own.
type Buffer interface{ Len() int }

// Operand is an instruction's view of one value: its type, shape and memory.
type Operand struct {
	DType DType
	Shape []int
	Buf   Buffer
}

// Size is the number of elements (1 for a scalar, whose shape is empty).
func (o Operand) Size() int { return Size(o.Shape) }

// Size returns the number of elements of a shape.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Launch runs one prepared instruction. Kernels return an error only for bad data that a
// shape check cannot see (a label outside the classes, a token id outside the table).
type Launch func() error

// Kernel prepares one instruction of its kind on its device.
type Kernel func(p *Prep) (Launch, error)

// Prep is what a kernel is given to prepare an instruction.
type Prep struct {
	Op  Op
	Out Operand // Buf is nil when the op has no output
	In  []Operand

	dev     Device
	scratch *scratchPool
}

// Device returns the device the instruction runs on.
func (p *Prep) Device() Device { return p.dev }

// Scratch reserves n elements of temporary memory for the instruction. The memory is
// shared with every other instruction's scratch (they run one at a time) and is valid at
// launch time only: read Scratch.Buf inside the Launch, not when preparing.
func (p *Prep) Scratch(dt DType, n int) *Scratch { return p.scratch.reserve(dt, n) }

// Scratch is temporary memory reserved by a kernel.
type Scratch struct {
	dt  DType
	n   int
	buf Buffer
}

// Buf returns the reserved memory (at launch time).
func (s *Scratch) Buf() Buffer { return s.buf }

// Len returns the number of elements reserved.
func (s *Scratch) Len() int { return s.n }

type scratchPool struct {
	reqs []*Scratch
}

func (sp *scratchPool) reserve(dt DType, n int) *Scratch {
	s := &Scratch{dt: dt, n: n}
	sp.reqs = append(sp.reqs, s)
	return s
}

// size returns the largest request of each type.
func (sp *scratchPool) size(dt DType) int {
	n := 0
	for _, r := range sp.reqs {
		if r.dt == dt {
			n = max(n, r.n)
		}
	}
	return n
}

// Device is where programs run: memory, the binding of host memory, and kernels.
type Device interface {
	// Name is the device's name in messages: "cpu", "cuda:0".
	Name() string
	// Alloc returns n zeroed elements of dt in the device's memory.
	Alloc(dt DType, n int) (Buffer, error)
	// Sub returns elements [off, off+n) of b, sharing its memory.
	Sub(b Buffer, off, n int) Buffer
	// Bind returns the device's buffer for host memory (a []float32 or []float64): the
	// memory itself on the CPU, a device copy on a GPU, the same one for every Bind of the
	// same host memory.
	Bind(host any) (Buffer, error)
	// CopyIn makes a bound buffer hold its host memory's current contents; CopyOut the
	// reverse. Both are no-ops where Bind shares the host memory.
	CopyIn(b Buffer) error
	CopyOut(b Buffer) error
	// Free releases a buffer from Alloc, or one reference to a buffer from Bind.
	Free(b Buffer)
	// Kernel returns the device's kernel for an op kind and element type, or nil.
	Kernel(kind string, dt DType) Kernel
	// Sync waits until every launch so far has finished.
	Sync() error
}

// The registry of devices, filled by each device package's init (as database/sql drivers
// register themselves); a binary ships the devices it imports.
var (
	devicesMu sync.Mutex
	devices   = map[string]Device{}
)

// Register makes a device available under its name.
func Register(d Device) {
	devicesMu.Lock()
	defer devicesMu.Unlock()
	if _, dup := devices[d.Name()]; dup {
		panic("exec: device registered twice: " + d.Name())
	}
	devices[d.Name()] = d
}

// DeviceByName returns the named device.
func DeviceByName(name string) (Device, error) {
	devicesMu.Lock()
	defer devicesMu.Unlock()
	if d, ok := devices[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("exec: no device %q in this binary (have %v)", name, deviceNames())
}

// Devices lists the registered devices, sorted by name.
func Devices() []Device {
	devicesMu.Lock()
	defer devicesMu.Unlock()
	var ds []Device
	for _, n := range deviceNames() {
		ds = append(ds, devices[n])
	}
	return ds
}

func deviceNames() []string {
	var names []string
	for n := range devices {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
