package train

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
)

// copyDevice is the CPU with memory of its own, as a GPU has: Bind gives host memory a
// device copy (one per host slice, shared by every program that binds it) that changes
// only through CopyIn and CopyOut. Training on it checks that the engine moves data
// between host and device where it must, and nowhere else, without a GPU.
type copyDevice struct {
	mu      sync.Mutex
	byHost  map[unsafe.Pointer]*mirror
	byBuf   map[unsafe.Pointer]*mirror
	copies  int // CopyIn and CopyOut calls that moved data
	mirrors int
}

type mirror struct {
	host []float32
	dev  []float32
	refs int
}

func newCopyDevice() *copyDevice {
	return &copyDevice{byHost: map[unsafe.Pointer]*mirror{}, byBuf: map[unsafe.Pointer]*mirror{}}
}

func (d *copyDevice) Name() string { return "cpu-copy" }
func (d *copyDevice) Alloc(dt exec.DType, n int) (exec.Buffer, error) {
	return cpu.Device.Alloc(dt, n)
}
func (d *copyDevice) Sub(b exec.Buffer, off, n int) exec.Buffer { return cpu.Device.Sub(b, off, n) }
func (d *copyDevice) Kernel(kind string, dt exec.DType) exec.Kernel {
	return cpu.Device.Kernel(kind, dt)
}
func (d *copyDevice) Sync() error { return nil }

func (d *copyDevice) Bind(host any) (exec.Buffer, error) {
	h, ok := host.([]float32)
	if !ok || len(h) == 0 {
		return nil, fmt.Errorf("cpu-copy binds float32 memory only, got %T", host)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.byHost[unsafe.Pointer(&h[0])]
	if m == nil {
		m = &mirror{host: h, dev: slices.Clone(h)}
		d.byHost[unsafe.Pointer(&h[0])] = m
		d.byBuf[unsafe.Pointer(&m.dev[0])] = m
		d.mirrors++
	}
	m.refs++
	return cpu.Mem{F32: m.dev}, nil
}

func (d *copyDevice) mirror(b exec.Buffer) *mirror {
	f := b.(cpu.Mem).F32
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byBuf[unsafe.Pointer(&f[0])]
}

func (d *copyDevice) CopyIn(b exec.Buffer) error {
	if m := d.mirror(b); m != nil {
		copy(m.dev, m.host)
		d.copies++
	}
	return nil
}

func (d *copyDevice) CopyOut(b exec.Buffer) error {
	if m := d.mirror(b); m != nil {
		copy(m.host, m.dev)
		d.copies++
	}
	return nil
}

func (d *copyDevice) Free(b exec.Buffer) {
	if m := d.mirror(b); m != nil {
		d.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(d.byHost, unsafe.Pointer(&m.host[0]))
			delete(d.byBuf, unsafe.Pointer(&m.dev[0]))
		}
		d.mu.Unlock()
	}
}

// checkpointTensors reads every tensor of a checkpoint.
func checkpointTensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	all, err := checkpoints.ReadTensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// A run on a device whose memory is its own (a GPU's way), interrupted and resumed in a
// new process, ends with the checkpoint a straight run on the CPU writes, every tensor
// the same: parameters, batch statistics, moments and averages reach the host when saved
// and the device when loaded, and the inputs of every step reach the device.
func TestTrainingOnADeviceWithItsOwnMemory(t *testing.T) {
	straight := t.TempDir()
	trainFor(t, straight, 14, "ema=0.9")
	want := checkpointTensors(t, filepath.Join(straight, LatestFile))

	dev := newCopyDevice()
	prev := graph.UseDevice(dev)
	defer graph.UseDevice(prev)
	dir := t.TempDir()
	trainFor(t, dir, 7, "ema=0.9")
	trainFor(t, dir, 14, "ema=0.9")
	got := checkpointTensors(t, filepath.Join(dir, LatestFile))

	if dev.mirrors == 0 || dev.copies == 0 {
		t.Fatalf("the device made %d copies of %d bound buffers", dev.copies, dev.mirrors)
	}
	if len(got) != len(want) {
		t.Fatalf("%d tensors, the CPU run's checkpoint has %d", len(got), len(want))
	}
	for name, w := range want {
		if !slices.Equal(got[name], w) {
			t.Errorf("%s differs from the CPU run's", name)
		}
	}
}
