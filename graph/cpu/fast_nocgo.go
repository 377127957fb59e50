//go:build !cgo

package cpu

// SIMD names the instruction set of the fast kernels: none without cgo, where every kind
// runs its reference kernel.
func SIMD() string { return "" }
