// Package cuda is the CUDA device of aigc's executor: tensors in a GPU's memory for the
// whole run, matrix products through cuBLAS, and every other op through the kernels of
// package kernels, launched on one stream. It reaches the GPU through a kernels.Driver:
// the CUDA driver API in the aigc-cuda binary (build tag aigc_cuda), or the host emulation
// in the tests (tag aigc_emu), which runs this package's kernel table, launch for launch,
// on the CPU and compares every op with the CPU device's.
//
// The device computes in float32 (the models' type); float64, which only the CPU's
// gradient checks use, has no kernels here.
package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/kernels"
)

// Mem is device memory: N float32s at P.
type Mem struct {
	P kernels.Ptr
	N int
}

// Len implements exec.Buffer.
func (m Mem) Len() int { return m.N }

// Device is one GPU as the executor sees it.
type Device struct {
	drv  kernels.Driver
	name string

	mu     sync.Mutex
	byHost map[*float32]*binding
	byPtr  map[kernels.Ptr]*binding
	fns    map[string]kernels.Function
	consts []kernels.Ptr // per-instruction tables (fused programs), kept for the device's life

	status kernels.Ptr // one int32 the kernels set on bad data (see common.cuh)

	// Exact makes matrix products float32 throughout (--set matmul_precision=highest);
	// otherwise cuBLAS may use TF32 tensor cores.
	Exact bool
}

// binding is host memory's copy on the device.
type binding struct {
	host []float32
	mem  Mem
	refs int
}

// New returns the device over drv, named name in messages ("cuda:0").
func New(drv kernels.Driver, name string) (*Device, error) {
	d := &Device{drv: drv, name: name, byHost: map[*float32]*binding{}, byPtr: map[kernels.Ptr]*binding{},
		fns: map[string]kernels.Function{}}
	var err error
	if d.status, err = drv.Alloc(4); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Device) Name() string { return d.name }

// Driver returns the driver the device runs on.
func (d *Device) Driver() kernels.Driver { return d.drv }

func (d *Device) Alloc(dt exec.DType, n int) (exec.Buffer, error) {
	if dt != exec.Float32 {
		return nil, fmt.Errorf("%s: cannot allocate %v (the GPU computes in float32)", d.name, dt)
	}
	p, err := d.drv.Alloc(4 * max(n, 1))
	if err != nil {
		return nil, fmt.Errorf("%s: allocating %d MB: %w", d.name, 4*n>>20, err)
	}
	return Mem{P: p, N: n}, nil
}

func (d *Device) Sub(b exec.Buffer, off, n int) exec.Buffer {
	m := b.(Mem)
	return Mem{P: m.P + kernels.Ptr(4*off), N: n}
}

// Bind gives host memory one device copy, however many programs bind it.
func (d *Device) Bind(host any) (exec.Buffer, error) {
	h, ok := host.([]float32)
	if !ok {
		return nil, fmt.Errorf("%s: cannot bind %T (the GPU computes in float32)", d.name, host)
	}
	if len(h) == 0 {
		h = make([]float32, 1)[:0]
	}
	key := unsafe.SliceData(h)
	d.mu.Lock()
	defer d.mu.Unlock()
	if b := d.byHost[key]; b != nil && len(b.host) == len(h) {
		b.refs++
		return b.mem, nil
	}
	p, err := d.drv.Alloc(4 * max(len(h), 1))
	if err != nil {
		return nil, fmt.Errorf("%s: allocating %d MB: %w", d.name, 4*len(h)>>20, err)
	}
	b := &binding{host: h, mem: Mem{P: p, N: len(h)}, refs: 1}
	if len(h) > 0 {
		if err := d.drv.HtoD(p, unsafe.Pointer(key), 4*len(h)); err != nil {
			d.drv.Free(p)
			return nil, err
		}
	}
	d.byHost[key], d.byPtr[p] = b, b
	return b.mem, nil
}

func (d *Device) binding(buf exec.Buffer) *binding {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byPtr[buf.(Mem).P]
}

func (d *Device) CopyIn(buf exec.Buffer) error {
	b := d.binding(buf)
	if b == nil || len(b.host) == 0 {
		return nil
	}
	return d.drv.HtoD(b.mem.P, unsafe.Pointer(unsafe.SliceData(b.host)), 4*len(b.host))
}

func (d *Device) CopyOut(buf exec.Buffer) error {
	b := d.binding(buf)
	if b == nil || len(b.host) == 0 {
		return nil
	}
	return d.drv.DtoH(unsafe.Pointer(unsafe.SliceData(b.host)), b.mem.P, 4*len(b.host))
}

// Free releases memory from Alloc, or one reference to bound memory.
func (d *Device) Free(buf exec.Buffer) {
	m := buf.(Mem)
	d.mu.Lock()
	b := d.byPtr[m.P]
	if b != nil {
		if b.refs--; b.refs > 0 {
			d.mu.Unlock()
			return
		}
		delete(d.byPtr, m.P)
		delete(d.byHost, unsafe.SliceData(b.host))
	}
	d.mu.Unlock()
	d.drv.Free(m.P)
}

// Sync waits for the stream, then reports bad data a kernel met.
func (d *Device) Sync() error {
	if err := d.drv.Sync(); err != nil {
		return err
	}
	var status int32
	if err := d.drv.DtoH(unsafe.Pointer(&status), d.status, 4); err != nil {
		return err
	}
	if status == 0 {
		return nil
	}
	if err := d.drv.Zero(d.status, 4); err != nil {
		return err
	}
	switch status {
	case statusBadLabel:
		return fmt.Errorf("%s: a label outside the classes", d.name)
	case statusBadID:
		return fmt.Errorf("%s: a token id outside the embedding table", d.name)
	}
	return fmt.Errorf("%s: kernel status %d", d.name, status)
}

// The status codes of common.cuh.
const (
	statusBadLabel = 1
	statusBadID    = 2
)

// Close frees the device's own memory.
func (d *Device) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.consts {
		d.drv.Free(p)
	}
	d.consts = nil
	d.drv.Free(d.status)
}

// Kernel returns the kind's float32 kernel.
func (d *Device) Kernel(kind string, dt exec.DType) exec.Kernel {
	k := table[kind]
	if k == nil || dt != exec.Float32 {
		return nil
	}
	return func(p *exec.Prep) (exec.Launch, error) { return k(d, p) }
}

// kernel prepares one instruction on the device.
type kernel func(d *Device, p *exec.Prep) (exec.Launch, error)

// table holds the kernels by op kind, filled by each op family's file.
var table = map[string]kernel{}

func register(kind string, k kernel) {
	if _, dup := table[kind]; dup {
		panic("cuda: kernel registered twice: " + kind)
	}
	table[kind] = k
}

// Kinds lists the op kinds with a kernel.
func Kinds() []string {
	var out []string
	for k := range table {
		out = append(out, k)
	}
	return out
}

// fn returns a loaded kernel by name.
func (d *Device) fn(name string) (kernels.Function, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f := d.fns[name]; f != nil {
		return f, nil
	}
	f, err := d.drv.Function(name)
	if err != nil {
		return nil, fmt.Errorf("%s: kernel %s: %w", d.name, name, err)
	}
	d.fns[name] = f
	return f, nil
}

// constant copies a table the kernels read into device memory for the device's life.
func (d *Device) constant(b []byte) (kernels.Ptr, error) {
	p, err := d.drv.Alloc(len(b))
	if err != nil {
		return 0, err
	}
	if err := d.drv.HtoD(p, unsafe.Pointer(unsafe.SliceData(b)), len(b)); err != nil {
		d.drv.Free(p)
		return 0, err
	}
	d.mu.Lock()
	d.consts = append(d.consts, p)
	d.mu.Unlock()
	return p, nil
}
