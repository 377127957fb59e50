//go:build openblas

package graph

/*
#cgo LDFLAGS: -lopenblas -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

void openblas_set_num_threads(int num_threads);

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

import (
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/tensor"
)

// Matrix products go to OpenBLAS through gonum's netlib bindings: about twice the speed of
// gonum's pure-Go BLAS on these models. Built with `-tags openblas` (the Makefile does so
// when libopenblas-dev is installed).
//
// OpenBLAS's idle threads spin for about 0.1 s before sleeping, which on a small machine
// takes the cores from aigc's own element-wise work between two products: the GPT's
// training step ran 22% faster and the VAE's 12% with a short spin, the LSTM's (large
// products back to back) the same.
func init() {
	tensor.Use(netlib.Implementation{})
	C.aigc_short_spin()
}

const blasName = "OpenBLAS"

func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }
