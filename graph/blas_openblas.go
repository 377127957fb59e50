//go:build openblas

package graph

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
*/
import "C"

import (
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/tensor"
)

// Matrix products go to OpenBLAS through gonum's netlib bindings: about twice the speed of
// gonum's pure-Go BLAS on these models. Built with `-tags openblas` (the Makefile does so
// when libopenblas-dev is installed).
func init() { tensor.Use(netlib.Implementation{}) }

const blasName = "OpenBLAS"

func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }
