//go:build openblas

package cpu

/*
#cgo LDFLAGS: -lopenblas -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int num_threads);
char* openblas_get_corename(void);

// aigc_fix_core gives OpenBLAS the kernels of the processor when its run-time detection
// did not recognise it and fell back to its generic x86-64 ones ("Prescott", SSE3):
// OpenBLAS 0.3.21 (Debian 12's) does so on Intel's Sapphire and Emerald Rapids, where
// sgemm then runs at a fifth of the speed of its SkylakeX (AVX-512) kernels. The core is
// chosen again through OPENBLAS_CORETYPE, as a user would, from what the processor
// supports; a user's own OPENBLAS_CORETYPE is left alone. Returns 1 when applied.
static int aigc_fix_core(void) {
	void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
	void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
	if (!quit || !init || getenv("OPENBLAS_CORETYPE") != NULL) {
		return 0;
	}
	if (strcmp(openblas_get_corename(), "Prescott") != 0) {
		return 0;
	}
	const char *want = NULL;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
		want = "SkylakeX";
	} else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		want = "Haswell";
	}
#endif
	if (want == NULL) {
		return 0;
	}
	setenv("OPENBLAS_CORETYPE", want, 1);
	quit();
	init();
	return 1;
}

// aigc_short_spin restarts OpenBLAS's thread pool with a spin of 2^4 cycles before an
// idle worker sleeps, instead of the default 2^28 (about 0.1 s), unless the user set
// OPENBLAS_THREAD_TIMEOUT. OpenBLAS reads that variable once, when it is loaded, so it is
// set here, read again, and the pool rebuilt. The symbols are looked up at run time: a
// build of OpenBLAS without them keeps its defaults. Returns 1 when applied.
static int aigc_short_spin(void) {
	void (*read_env)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "openblas_read_env");
	int (*shutdown)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
	int (*init)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_init");
	if (!read_env || !shutdown || !init || getenv("OPENBLAS_THREAD_TIMEOUT") != NULL) {
		return 0;
	}
	setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
	read_env();
	shutdown();
	init();
	return 1;
}
*/
import "C"

import "gonum.org/v1/netlib/blas/netlib"

// Matrix products go to OpenBLAS through gonum's netlib bindings: about twice the speed of
// gonum's pure-Go BLAS on these models. Built with `-tags openblas` (the Makefile does so
// when libopenblas-dev is installed).
//
// OpenBLAS's idle threads spin for about 0.1 s before sleeping, which on a small machine
// takes the cores from aigc's own element-wise work between two products: the GPT's
// training step ran 22% faster and the VAE's 12% with a short spin, the LSTM's (large
// products back to back) the same.
var impl blasImpl = netlib.Implementation{}

// splitGemm: Gemm splits large products across aigc's threads, OpenBLAS running
// single-threaded.
const splitGemm = true

func init() {
	C.aigc_fix_core()
	C.aigc_short_spin()
	setBLASThreads(1)
}

func blasName() string { return "OpenBLAS " + C.GoString(C.openblas_get_corename()) }

func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }
