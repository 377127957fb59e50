package graph

import (
	G "gorgonia.org/gorgonia"
)

// Thin wrappers of Gorgonia's own Ops, in the panic-on-build-error style of this package
// (see Build), for the elementwise and structural steps that need no Op of aigc's.

// Mean returns the mean of all elements of x, a scalar.
func Mean(x *G.Node) *G.Node { return must(G.Mean(x)) }

// Sum returns the sum of x along the given axes (all of them when none are given).
func Sum(x *G.Node, axes ...int) *G.Node { return must(G.Sum(x, axes...)) }

// Add returns a + b elementwise (b may be a scalar).
func Add(a, b *G.Node) *G.Node { return must(G.Add(a, b)) }

// Mul returns a ⊙ b elementwise (b may be a scalar).
func Mul(a, b *G.Node) *G.Node { return must(G.HadamardProd(a, b)) }

// Exp returns e^x elementwise.
func Exp(x *G.Node) *G.Node { return must(G.Exp(x)) }

// Softmax returns the softmax of each row of a matrix (over its last axis).
func Softmax(x *G.Node) *G.Node { return must(G.SoftMax(x)) }
