// The entry points of the fast kernels: each calls the build for the instruction set
// chosen at start (the best the processor has) or by aigc_simd_use.
#include "kernels.h"

#if defined(__x86_64__)
#define AIGC_VARIANTS(ret, name, params, args) \
	ret name##_avx512 params;                  \
	ret name##_avx2 params;                    \
	ret name##_sse2 params;
#else
#define AIGC_VARIANTS(ret, name, params, args) ret name##_sse2 params;
#endif
AIGC_KERNELS(AIGC_VARIANTS)

static int best(void) {
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
		return 2;
	}
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		return 1;
	}
#endif
	return 0;
}

static int level = -1;

int aigc_simd_level(void) {
	if (level < 0) {
		level = best();
	}
	return level;
}

int aigc_simd_use(int want) {
	int b = best();
	level = want < 0 || want > b ? b : want;
	return level;
}

#if defined(__x86_64__)
#define AIGC_DISPATCH(ret, name, params, args) \
	ret name params {                          \
		switch (aigc_simd_level()) {           \
		case 2:                                \
			return name##_avx512 args;         \
		case 1:                                \
			return name##_avx2 args;           \
		}                                      \
		return name##_sse2 args;               \
	}
#else
#define AIGC_DISPATCH(ret, name, params, args) \
	ret name params { return name##_sse2 args; }
#endif
AIGC_KERNELS(AIGC_DISPATCH)
