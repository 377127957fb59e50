// The fast kernels for AVX-512 (Skylake-SP and later; 512-bit vectors, see the cgo
// flags).
#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define AIGC_SUFFIX _avx512
#include "kernels_impl.h"
#endif
