package graph

import "runtime"

// BLAS names the library that computes matrix products in this build.
func BLAS() string { return blasName }

// SetThreads sets how many cores aigc computes on: Go's scheduler and, when linked,
// OpenBLAS's thread pool.
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	runtime.GOMAXPROCS(n)
	setBLASThreads(n)
}
