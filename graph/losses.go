package graph

import (
	G "gorgonia.org/gorgonia"
)

// GaussianKL returns, for each row, KL(N(mu, e^logvar) ‖ N(0, I)) summed over the latent
// dimensions: ½·Σ(mu² + e^logvar − logvar − 1), a [batch] vector.
func GaussianKL(mu, logvar *G.Node) *G.Node {
	terms := must(G.Add(must(G.Square(mu)), must(G.Exp(logvar))))
	terms = must(G.Sub(terms, must(G.Add(logvar, Scalar(mu, 1)))))
	return must(G.HadamardProd(must(G.Sum(terms, 1)), Scalar(mu, 0.5)))
}

// Reparameterize returns z = mu + exp(½·logvar)·eps: a sample of N(mu, e^logvar) through
// which gradients reach mu and logvar, eps ~ N(0, I) being an input (Kingma & Welling).
func Reparameterize(mu, logvar, eps *G.Node) *G.Node {
	std := Exp(Mul(logvar, Scalar(logvar, 0.5)))
	return Add(mu, Mul(std, eps))
}
