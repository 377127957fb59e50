//go:build aigc_cuda

package kernels

// cuBLAS, loaded at run time: libcublas.so.13, .12 or .11, whichever the host has, so one
// aigc-cuda runs on CUDA 11.8 to 13 (gorgonia.org/cu/blas links libcublas.so.11 at build
// time and lacks strided-batched products, streams and math modes).

// #cgo LDFLAGS: -ldl
// #include <dlfcn.h>
// #include <stdint.h>
// #include <stdlib.h>
//
// typedef int (*create_fn)(void**);
// typedef int (*destroy_fn)(void*);
// typedef int (*math_fn)(void*, int);
// typedef int (*gemm_fn)(void*, int, int, int, int, int, const float*, const void*, int, long long,
//     const void*, int, long long, const float*, void*, int, long long, int);
//
// static void* lib;
// static create_fn p_create;
// static destroy_fn p_destroy;
// static math_fn p_math;
// static gemm_fn p_gemm;
//
// // aigc_cublas_try loads cuBLAS from path (a soname or a file), with cuBLASLt from lt
// // first when given (cuBLAS needs it, and its folder may not be on the loader's path).
// static int aigc_cublas_try(const char* path, const char* lt) {
//   if (lt) dlopen(lt, RTLD_NOW | RTLD_GLOBAL);
//   lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
//   if (!lib) return 0;
//   p_create = (create_fn)dlsym(lib, "cublasCreate_v2");
//   p_destroy = (destroy_fn)dlsym(lib, "cublasDestroy_v2");
//   p_math = (math_fn)dlsym(lib, "cublasSetMathMode");
//   p_gemm = (gemm_fn)dlsym(lib, "cublasSgemmStridedBatched");
//   if (p_create && p_destroy && p_math && p_gemm) return 1;
//   dlclose(lib);
//   lib = 0;
//   return 0;
// }
// static int aigc_cublas_create(uintptr_t* h) { void* p = 0; int s = p_create(&p); *h = (uintptr_t)p; return s; }
// static int aigc_cublas_destroy(uintptr_t h) { return p_destroy((void*)h); }
// static int aigc_cublas_math(uintptr_t h, int mode) { return p_math((void*)h, mode); }
// static int aigc_cublas_gemm(uintptr_t h, int ta, int tb, int m, int n, int k, float alpha, uint64_t a, int lda,
//     long long sa, uint64_t b, int ldb, long long sb, float beta, uint64_t c, int ldc, long long sc, int batch) {
//   return p_gemm((void*)h, ta, tb, m, n, k, &alpha, (const void*)a, lda, sa, (const void*)b, ldb, sb, &beta,
//       (void*)c, ldc, sc, batch);
// }
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"
)

// cuBLAS's math modes (cublasMath_t).
const (
	mathDefault = 0 // FP32 arithmetic
	mathTF32    = 3 // CUBLAS_TF32_TENSOR_OP_MATH: TF32 tensor cores for FP32 products (Ampere and newer)
)

type cublas struct {
	lib    string
	handle C.uintptr_t
	mode   int
	tf32   bool // the GPU has TF32 tensor cores
}

// cublasVersions are the sonames tried, newest first.
var cublasVersions = []string{"13", "12", "11"}

// cublasCandidates lists where cuBLAS may be: $AIGC_CUBLAS (a file or a folder), the
// loader's path, the CUDA toolkit's folders, and the folder of PyTorch's wheel.
func cublasCandidates() (paths, lts []string) {
	add := func(dir string) {
		for _, v := range cublasVersions {
			paths = append(paths, filepath.Join(dir, "libcublas.so."+v))
			lts = append(lts, filepath.Join(dir, "libcublasLt.so."+v))
		}
	}
	if env := os.Getenv("AIGC_CUBLAS"); env != "" {
		if st, err := os.Stat(env); err == nil && !st.IsDir() {
			paths, lts = append(paths, env), append(lts, filepath.Join(filepath.Dir(env), strings.Replace(filepath.Base(env), "libcublas.", "libcublasLt.", 1)))
		} else {
			add(env)
		}
	}
	for _, v := range cublasVersions {
		paths, lts = append(paths, "libcublas.so."+v), append(lts, "")
	}
	var dirs []string
	for _, pattern := range []string{"/usr/local/cuda/lib64", "/usr/local/cuda/targets/*/lib", "/usr/local/cuda-*/lib64",
		"/usr/local/lib/python3*/dist-packages/nvidia/cublas/lib", "/usr/lib/python3/dist-packages/nvidia/cublas/lib",
		"/usr/local/lib/python3*/site-packages/nvidia/cublas/lib", "/opt/conda/lib", "/opt/conda/lib/python3*/site-packages/nvidia/cublas/lib"} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		add(d)
	}
	return paths, lts
}

// openCublas loads cuBLAS and creates a handle in the calling thread's current context.
func openCublas(tf32 bool) (*cublas, error) {
	paths, lts := cublasCandidates()
	name := ""
	for i, p := range paths {
		cp := C.CString(p)
		var clt *C.char
		if lts[i] != "" {
			clt = C.CString(lts[i])
		}
		ok := C.aigc_cublas_try(cp, clt) == 1
		C.free(unsafe.Pointer(cp))
		if clt != nil {
			C.free(unsafe.Pointer(clt))
		}
		if ok {
			name = p
			break
		}
	}
	if name == "" {
		return nil, errors.New("no cuBLAS: libcublas.so.13, .12 or .11 not found on the loader's path, in /usr/local/cuda or in PyTorch's wheel (install the CUDA runtime libraries, or set AIGC_CUBLAS to the library's folder)")
	}
	b := &cublas{lib: name, tf32: tf32, mode: -1}
	if s := C.aigc_cublas_create(&b.handle); s != 0 {
		return nil, fmt.Errorf("cublasCreate: status %d", int(s))
	}
	return b, nil
}

func (b *cublas) gemm(g Gemm) error {
	mode := mathDefault
	if b.tf32 && !g.Exact {
		mode = mathTF32
	}
	if mode != b.mode {
		if s := C.aigc_cublas_math(b.handle, C.int(mode)); s != 0 {
			return fmt.Errorf("cublasSetMathMode: status %d", int(s))
		}
		b.mode = mode
	}
	if s := C.aigc_cublas_gemm(b.handle, cop(g.TransA), cop(g.TransB), C.int(g.M), C.int(g.N), C.int(g.K),
		C.float(g.Alpha), C.uint64_t(g.A), C.int(g.LDA), C.longlong(g.StrideA), C.uint64_t(g.B), C.int(g.LDB),
		C.longlong(g.StrideB), C.float(g.Beta), C.uint64_t(g.C), C.int(g.LDC), C.longlong(g.StrideC), C.int(g.Batch)); s != 0 {
		return fmt.Errorf("cublasSgemmStridedBatched (%d×%d×%d, batch %d): status %d", g.M, g.N, g.K, g.Batch, int(s))
	}
	return nil
}

func cop(t bool) C.int {
	if t {
		return 1 // CUBLAS_OP_T
	}
	return 0
}

func (b *cublas) close() { C.aigc_cublas_destroy(b.handle) }
