//go:build aigc_cuda

package kernels

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"gorgonia.org/cu"
)

// GPU is the Driver over a real GPU: the CUDA driver API through gorgonia.org/cu, and
// cuBLAS. A CUDA context is current per OS thread and a goroutine may move between
// threads, so every call locks its goroutine to its thread and makes the context current
// there first (cuCtxSetCurrent is a thread-local store: far cheaper than handing each
// launch to one dedicated thread); a mutex keeps the calls one at a time.
type GPU struct {
	index int
	name  string
	info  GPUInfo
	mu    sync.Mutex
	ctx   cu.CUContext
	fns   map[string]cu.Function
	mods  []cu.Module
	blas  *cublas
}

// DriverVersion returns the CUDA version the driver supports, as "13.0".
func DriverVersion() string {
	v := cu.Version()
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10)
}

// GPUs describes the GPUs the driver sees.
func GPUs() ([]GPUInfo, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, err
	}
	var out []GPUInfo
	for i := range n {
		info, err := describe(i)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func describe(i int) (GPUInfo, error) {
	d, err := cu.GetDevice(i)
	if err != nil {
		return GPUInfo{}, err
	}
	name, _ := d.Name()
	mem, _ := d.TotalMem()
	major, minor, _ := d.ComputeCapability()
	return GPUInfo{Index: i, Name: name, MemoryBytes: mem, Capability: fmt.Sprintf("%d.%d", major, minor),
		Driver: DriverVersion(), CapMajor: major}, nil
}

// OpenGPU makes a context on GPU index, loads every kernel module and opens cuBLAS.
func OpenGPU(index int) (*GPU, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: %v", err)
	}
	if index < 0 || index >= n {
		return nil, fmt.Errorf("cuda:%d: this machine has %d GPUs (cuda:0 to cuda:%d)", index, n, n-1)
	}
	info, err := describe(index)
	if err != nil {
		return nil, err
	}
	g := &GPU{index: index, info: info, fns: map[string]cu.Function{}}
	g.name = fmt.Sprintf("%s (cuda:%d)", info.Name, index)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev, err := cu.GetDevice(index)
	if err == nil {
		g.ctx, err = dev.MakeContext(cu.SchedAuto)
	}
	if err == nil {
		err = g.load()
	}
	if err == nil {
		g.blas, err = openCublas(info.CapMajor >= 8)
	}
	if err != nil {
		return nil, fmt.Errorf("cuda:%d: %v", index, err)
	}
	g.info.CUBLAS = g.blas.lib
	return g, nil
}

// load JIT-compiles every embedded PTX module for this GPU.
func (g *GPU) load() error {
	for name, ptx := range Modules() {
		m, err := cu.LoadData(string(ptx))
		if err != nil {
			return fmt.Errorf("cuda: loading the %s kernels (PTX for compute_80; is the driver older than CUDA 11.8?): %v", name, err)
		}
		g.mods = append(g.mods, m)
		for _, e := range Entries(ptx) {
			f, err := m.Function(e)
			if err != nil {
				return fmt.Errorf("cuda: kernel %s: %v", e, err)
			}
			g.fns[e] = f
		}
	}
	return nil
}

// do runs f with the context current on the calling thread.
func (g *GPU) do(f func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(g.ctx); err != nil {
		return fmt.Errorf("cuda: making the context current: %v", err)
	}
	return f()
}

// Info describes the GPU.
func (g *GPU) Info() GPUInfo { return g.info }

func (g *GPU) Name() string { return g.name }

func (g *GPU) Alloc(bytes int) (Ptr, error) {
	var p cu.DevicePtr
	err := g.do(func() error {
		var err error
		if p, err = cu.MemAlloc(int64(max(bytes, 4))); err != nil {
			return err
		}
		return cu.MemsetD8(p, 0, int64(max(bytes, 4)))
	})
	if err != nil {
		return 0, fmt.Errorf("cuda: allocating %d bytes: %v", bytes, err)
	}
	return Ptr(p), nil
}

func (g *GPU) Free(p Ptr) { g.do(func() error { return cu.MemFree(cu.DevicePtr(p)) }) }

func (g *GPU) HtoD(dst Ptr, src unsafe.Pointer, bytes int) error {
	return g.do(func() error { return cu.MemcpyHtoD(cu.DevicePtr(dst), src, int64(bytes)) })
}

func (g *GPU) DtoH(dst unsafe.Pointer, src Ptr, bytes int) error {
	return g.do(func() error { return cu.MemcpyDtoH(dst, cu.DevicePtr(src), int64(bytes)) })
}

func (g *GPU) DtoD(dst, src Ptr, bytes int) error {
	return g.do(func() error { return cu.MemcpyDtoD(cu.DevicePtr(dst), cu.DevicePtr(src), int64(bytes)) })
}

func (g *GPU) Zero(p Ptr, bytes int) error {
	return g.do(func() error { return cu.MemsetD8(cu.DevicePtr(p), 0, int64(bytes)) })
}

type gpuFunction struct {
	name string
	fn   cu.Function
}

func (f gpuFunction) Name() string { return f.name }

func (g *GPU) Function(name string) (Function, error) {
	f, ok := g.fns[name]
	if !ok {
		return nil, fmt.Errorf("no kernel %s in the embedded PTX", name)
	}
	return gpuFunction{name: name, fn: f}, nil
}

// Launch passes each parameter as a pointer to its 8 bytes, as cu's Launch copies them.
func (g *GPU) Launch(f Function, grid, block [3]int, shared int, args []uint64) error {
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	fn := f.(gpuFunction)
	return g.do(func() error {
		if err := fn.fn.Launch(grid[0], grid[1], grid[2], block[0], block[1], block[2], shared, cu.Stream{}, params); err != nil {
			return fmt.Errorf("launching %s: %v", fn.name, err)
		}
		return nil
	})
}

func (g *GPU) Gemm(gm Gemm) error { return g.do(func() error { return g.blas.gemm(gm) }) }

// Sync waits for the GPU and reports the first error of an earlier launch.
func (g *GPU) Sync() error {
	return g.do(func() error {
		if err := cu.Synchronize(); err != nil {
			if strings.Contains(err.Error(), "illegal") {
				return fmt.Errorf("cuda: a kernel failed (%v); rerun with CUDA_LAUNCH_BLOCKING=1 to find it", err)
			}
			return fmt.Errorf("cuda: %v", err)
		}
		return nil
	})
}
