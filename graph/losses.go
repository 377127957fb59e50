package graph

import (
	G "gorgonia.org/gorgonia"
)

// GaussianKL returns, for each row, KL(N(mu, e^logvar) ‖ N(0, I)) summed over the latent
// dimensions: ½·Σ(mu² + e^logvar − logvar − 1), a [batch] vector.
func GaussianKL(mu, logvar *G.Node) *G.Node {
	terms := Sub(Add(Square(mu), Exp(logvar)), Affine(logvar, 1, 1))
	return Affine(Sum(terms, 1), 0.5, 0)
}

// Reparameterize returns z = mu + exp(½·logvar)·eps: a sample of N(mu, e^logvar) through
// which gradients reach mu and logvar, eps ~ N(0, I) being an input (Kingma & Welling).
func Reparameterize(mu, logvar, eps *G.Node) *G.Node {
	std := Exp(Affine(logvar, 0.5, 0))
	return Add(mu, Mul(std, eps))
}
