// Package cpu is the CPU device of aigc's executor: host memory, and a kernel for every op
// kind of the catalog (graph/exec/ops.go) in both element types.
//
// Each kind has a reference kernel in plain Go, generic over float32 and float64 (the
// gradient checks run in float64), and the hot float32 kinds also have a fast kernel in
// C, vectorised for the processor at hand (simd_*.c, chosen at start among AVX-512, AVX2
// and SSE2 builds of the same source). The device runs the fast kernel where there is
// one; Gorgonia's TapeMachine, the reference machine, runs the reference kernels, and the
// tests compare the two. Kernels split large work across cores with For.
package cpu

import (
	"fmt"
	"sort"
	"unsafe"

	"github.com/aigc-go/aigc/graph/exec"
)

// Mem is CPU memory: a slice of one element type.
type Mem struct {
	F32 []float32
	F64 []float64
}

// Len implements exec.Buffer.
func (m Mem) Len() int {
	if m.F64 != nil {
		return len(m.F64)
	}
	return len(m.F32)
}

// Device is the CPU. Bound host memory is used in place, so copies are no-ops.
var Device exec.Device = device{}

func init() { exec.Register(Device) }

type device struct{}

func (device) Name() string { return "cpu" }

func (device) Alloc(dt exec.DType, n int) (exec.Buffer, error) {
	if dt != exec.Float32 && dt != exec.Float64 {
		return nil, fmt.Errorf("cpu: cannot allocate %v", dt)
	}
	size := 4
	if dt == exec.Float64 {
		size = 8
	}
	p, err := allocMem(n, size)
	if err != nil {
		return nil, fmt.Errorf("cpu: allocating %d MB: %w", n*size>>20, err)
	}
	if dt == exec.Float64 {
		return Mem{F64: unsafe.Slice((*float64)(p), n)}, nil
	}
	return Mem{F32: unsafe.Slice((*float32)(p), n)}, nil
}

func (device) Sub(b exec.Buffer, off, n int) exec.Buffer {
	m := b.(Mem)
	if m.F64 != nil {
		return Mem{F64: m.F64[off : off+n : off+n]}
	}
	return Mem{F32: m.F32[off : off+n : off+n]}
}

func (device) Bind(host any) (exec.Buffer, error) { return Wrap(host) }

// Wrap returns host memory ([]float32 or []float64) as a buffer, in place.
func Wrap(host any) (exec.Buffer, error) {
	switch h := host.(type) {
	case []float32:
		return Mem{F32: h}, nil
	case []float64:
		return Mem{F64: h}, nil
	}
	return nil, fmt.Errorf("cpu: cannot bind %T", host)
}

func (device) CopyIn(exec.Buffer) error  { return nil }
func (device) CopyOut(exec.Buffer) error { return nil }

// Free returns memory from Alloc; bound host memory is the garbage collector's.
func (device) Free(b exec.Buffer) {
	switch m := b.(Mem); {
	case len(m.F32) > 0:
		freeMem(unsafe.Pointer(&m.F32[0]))
	case len(m.F64) > 0:
		freeMem(unsafe.Pointer(&m.F64[0]))
	}
}
func (device) Sync() error { return nil }

func (device) Kernel(kind string, dt exec.DType) exec.Kernel {
	if dt == exec.Float32 && fastEnabled {
		if k := fast[kind]; k != nil {
			return k
		}
	}
	return Reference(kind, dt)
}

// Reference returns the plain-Go kernel of a kind, or nil.
func Reference(kind string, dt exec.DType) exec.Kernel {
	ks, ok := reference[kind]
	if !ok {
		return nil
	}
	if dt == exec.Float64 {
		return ks[1]
	}
	return ks[0]
}

// The kernel tables: reference kernels by kind ([float32, float64]), and fast float32
// kernels by kind.
var (
	reference = map[string][2]exec.Kernel{}
	fast      = map[string]exec.Kernel{}
	// fastEnabled is false when AIGC_CPU_KERNELS=reference (for comparisons).
	fastEnabled = true
)

// register adds a kind's reference kernels.
func register(kind string, k32, k64 exec.Kernel) {
	if _, dup := reference[kind]; dup {
		panic("cpu: kernel registered twice: " + kind)
	}
	reference[kind] = [2]exec.Kernel{k32, k64}
}

// registerFast adds a kind's fast float32 kernel.
func registerFast(kind string, k exec.Kernel) {
	if _, dup := fast[kind]; dup {
		panic("cpu: fast kernel registered twice: " + kind)
	}
	fast[kind] = k
}

// Kinds lists the kinds with a reference kernel, and FastKinds those with a fast one.
func Kinds() []string     { return keys(reference) }
func FastKinds() []string { return keys(fast) }

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// float is the element types of the reference kernels.
type float interface{ ~float32 | ~float64 }

// data returns an operand's memory as []T.
func data[T float](o exec.Operand) []T {
	var z T
	m := o.Buf.(Mem)
	if _, ok := any(z).(float32); ok {
		return any(m.F32).([]T)
	}
	return any(m.F64).([]T)
}

// scratch returns reserved scratch memory as []T (at launch).
func scratch[T float](s *exec.Scratch) []T {
	return data[T](exec.Operand{Buf: s.Buf()})[:s.Len()]
}

// dtypeOf is T's exec type.
func dtypeOf[T float]() exec.DType {
	var z T
	if _, ok := any(z).(float32); ok {
		return exec.Float32
	}
	return exec.Float64
}

// isFloat32 reports whether T is float32.
func isFloat32[T float]() bool { return dtypeOf[T]() == exec.Float32 }
