//go:build !openblas

package cpu

import "gonum.org/v1/gonum/blas/gonum"

// Without the openblas tag, matrix products use gonum's pure-Go BLAS, which spreads its
// work over GOMAXPROCS goroutines.
var impl blasImpl = gonum.Implementation{}

// splitGemm: gonum's BLAS splits its products across goroutines itself.
const splitGemm = false

func blasName() string { return "gonum (pure Go)" }

func setBLASThreads(int) {}
