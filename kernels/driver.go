package kernels

import "unsafe"

// Ptr is an address in a device's memory.
type Ptr uint64

// Driver is what the CUDA device needs of a GPU: memory, copies, kernel launches on one
// stream, and cuBLAS's matrix products. Every parameter of a launch is 8 bytes, as
// gorgonia.org/cu passes them: a pointer, an integer, or a float32 in the low 4 bytes
// (Float).
type Driver interface {
	// Name is the GPU's name and index: "NVIDIA H200 (cuda:0)".
	Name() string
	Alloc(bytes int) (Ptr, error) // zeroed
	Free(p Ptr)
	HtoD(dst Ptr, src unsafe.Pointer, bytes int) error
	DtoH(dst unsafe.Pointer, src Ptr, bytes int) error
	DtoD(dst, src Ptr, bytes int) error
	Zero(p Ptr, bytes int) error
	// Function returns a kernel of the embedded modules by name.
	Function(name string) (Function, error)
	Launch(f Function, grid, block [3]int, shared int, args []uint64) error
	// Gemm is cublasSgemmStridedBatched: column-major C = α·op(A)·op(B) + β·C.
	Gemm(g Gemm) error
	Sync() error
}

// Function is a loaded kernel; its concrete type is the driver's.
type Function interface{ Name() string }

// Gemm is one strided-batched single-precision product, in cuBLAS's column-major terms.
type Gemm struct {
	TransA, TransB bool
	M, N, K        int
	Alpha, Beta    float32
	A              Ptr
	LDA            int
	StrideA        int64
	B              Ptr
	LDB            int
	StrideB        int64
	C              Ptr
	LDC            int
	StrideC        int64
	Batch          int
	// Exact asks for float32 arithmetic throughout, not TF32 tensor-op math.
	Exact bool
}

// Float is a float32 kernel parameter as its 8 bytes.
func Float(f float32) uint64 { return uint64(*(*uint32)(unsafe.Pointer(&f))) }

// GPUInfo describes a GPU.
type GPUInfo struct {
	Index       int    `json:"index"`
	Name        string `json:"name"`
	MemoryBytes int64  `json:"memory_bytes"`
	Capability  string `json:"compute_capability"`
	Driver      string `json:"driver"`
	CUBLAS      string `json:"cublas,omitempty"`
	CapMajor    int    `json:"-"` // TF32 tensor cores from 8 (Ampere)
}
