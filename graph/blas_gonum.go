//go:build !openblas

package graph

// Without the openblas tag, matrix products use gonum's pure-Go BLAS, which spreads its
// work over GOMAXPROCS goroutines.
const blasName = "gonum (pure Go)"

func setBLASThreads(int) {}
