//go:build aigc_emu

package kernels

// #cgo CXXFLAGS: -std=c++20 -O1 -pthread -DAIGC_EMU=1 -Wno-unused-variable
// #cgo LDFLAGS: -pthread -lstdc++ -lm
// #include <stdlib.h>
// #include <string.h>
// #include "emu_api.h"
// // Device addresses cross from Go as integers (go vet rightly objects to integers turned
// // into pointers on the Go side).
// static uint64_t emu_alloc(size_t n) { return (uint64_t)(uintptr_t)calloc(n, 1); }
// static void emu_free(uint64_t p) { free((void*)(uintptr_t)p); }
// static void emu_copy(uint64_t dst, uint64_t src, size_t n) { memmove((void*)(uintptr_t)dst, (void*)(uintptr_t)src, n); }
// static void emu_zero(uint64_t p, size_t n) { memset((void*)(uintptr_t)p, 0, n); }
// static void emu_gemm(int ta, int tb, int m, int n, int k, float alpha, uint64_t a, int lda, long long sa,
//     uint64_t b, int ldb, long long sb, float beta, uint64_t c, int ldc, long long sc, int batch) {
//   emu_sgemm_strided_batched(ta, tb, m, n, k, alpha, (const float*)(uintptr_t)a, lda, sa,
//     (const float*)(uintptr_t)b, ldb, sb, beta, (float*)(uintptr_t)c, ldc, sc, batch);
// }
import "C"

import (
	"fmt"
	"slices"
	"sync"
	"unsafe"
)

// Emulator is the Driver of the tests: device memory is host memory from C's allocator,
// and kernels run in emu.cpp's emulation of a GPU (see emu.h).
type Emulator struct {
	mu    sync.Mutex
	sizes map[Ptr]int
}

// NewEmulator returns the emulated GPU.
func NewEmulator() *Emulator { return &Emulator{sizes: map[Ptr]int{}} }

type emuFunction struct {
	name  string
	cname *C.char
}

func (f emuFunction) Name() string { return f.name }

func (e *Emulator) Name() string { return "host emulation of a GPU (cuda-emu)" }

func (e *Emulator) Alloc(bytes int) (Ptr, error) {
	p := Ptr(C.emu_alloc(C.size_t(max(bytes, 1))))
	if p == 0 {
		return 0, fmt.Errorf("emu: out of memory allocating %d bytes", bytes)
	}
	e.mu.Lock()
	e.sizes[p] = bytes
	e.mu.Unlock()
	return p, nil
}

func (e *Emulator) Free(p Ptr) {
	e.mu.Lock()
	delete(e.sizes, p)
	e.mu.Unlock()
	C.emu_free(C.uint64_t(p))
}

// Live is the number of allocations not yet freed.
func (e *Emulator) Live() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.sizes)
}

func (e *Emulator) HtoD(dst Ptr, src unsafe.Pointer, bytes int) error {
	C.emu_copy(C.uint64_t(dst), C.uint64_t(uintptr(src)), C.size_t(bytes))
	return nil
}

func (e *Emulator) DtoH(dst unsafe.Pointer, src Ptr, bytes int) error {
	C.emu_copy(C.uint64_t(uintptr(dst)), C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (e *Emulator) DtoD(dst, src Ptr, bytes int) error {
	C.emu_copy(C.uint64_t(dst), C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (e *Emulator) Zero(p Ptr, bytes int) error {
	C.emu_zero(C.uint64_t(p), C.size_t(bytes))
	return nil
}

// Function returns a kernel by name if nvcc compiled it: the emulation has every kernel
// of the sources, but a GPU has only those of the committed PTX.
func (e *Emulator) Function(name string) (Function, error) {
	if !slices.Contains(allEntries(), name) {
		return nil, fmt.Errorf("no kernel %s in the embedded PTX", name)
	}
	return emuFunction{name: name, cname: C.CString(name)}, nil
}

func (e *Emulator) Launch(f Function, grid, block [3]int, shared int, args []uint64) error {
	var msg [256]C.char
	var a *C.uint64_t
	if len(args) > 0 {
		a = (*C.uint64_t)(unsafe.Pointer(&args[0]))
	}
	if C.emu_launch(f.(emuFunction).cname, C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]),
		C.uint(block[0]), C.uint(block[1]), C.uint(block[2]), C.uint(shared), a, C.int(len(args)),
		&msg[0], C.int(len(msg))) != 0 {
		return fmt.Errorf("%s", C.GoString(&msg[0]))
	}
	return nil
}

func (e *Emulator) Gemm(g Gemm) error {
	C.emu_gemm(cbool(g.TransA), cbool(g.TransB), C.int(g.M), C.int(g.N), C.int(g.K),
		C.float(g.Alpha), C.uint64_t(g.A), C.int(g.LDA), C.longlong(g.StrideA),
		C.uint64_t(g.B), C.int(g.LDB), C.longlong(g.StrideB), C.float(g.Beta),
		C.uint64_t(g.C), C.int(g.LDC), C.longlong(g.StrideC), C.int(g.Batch))
	return nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (e *Emulator) Sync() error { return nil }

// EmulatedKernels lists the kernels the emulation has (every EXPORT of the sources).
func EmulatedKernels() []string {
	n := int(C.emu_count())
	out := make([]string, n)
	for i := range out {
		out[i] = C.GoString(C.emu_name(C.int(i)))
	}
	return out
}
