// The fast kernels for AVX2 with FMA (Haswell, Zen and later).
#if defined(__x86_64__)
#pragma GCC target("avx2,fma")
#define AIGC_SUFFIX _avx2
#include "kernels_impl.h"
#endif
