// Package stats holds the statistics behind aigc's sample-quality metrics: Gaussians fitted
// to classifier features and the Fréchet distance between them (the FID of Heusel et al.
// 2017, here on an MNIST classifier's features), and the Inception Score of class
// probabilities (Salimans et al. 2016).
package stats

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// Gaussian is the mean and covariance of a set of feature vectors.
type Gaussian struct {
	Mean []float64
	Cov  *mat.SymDense
}

// Fit returns the sample mean and unbiased sample covariance of n row vectors of length
// dim, as numpy's cov(rowvar=False) that FID implementations use.
func Fit(features []float32, n, dim int) (Gaussian, error) {
	if n < 2 || len(features) != n*dim {
		return Gaussian{}, fmt.Errorf("fitting a Gaussian: want at least 2 rows of %d values, got %d values", dim, len(features))
	}
	mean := make([]float64, dim)
	for i := range n {
		for j, v := range features[i*dim : (i+1)*dim] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	centred := mat.NewDense(n, dim, nil)
	for i := range n {
		for j, v := range features[i*dim : (i+1)*dim] {
			centred.Set(i, j, float64(v)-mean[j])
		}
	}
	cov := mat.NewSymDense(dim, nil)
	cov.SymOuterK(1/float64(n-1), centred.T())
	return Gaussian{Mean: mean, Cov: cov}, nil
}

// FrechetDistance returns the squared Fréchet (2-Wasserstein) distance between two
// Gaussians: |μ₁−μ₂|² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½). The trace of the square root is the sum of
// the square roots of the eigenvalues of Σ₁^½ Σ₂ Σ₁^½, which is symmetric, so only
// symmetric eigendecompositions are needed.
func FrechetDistance(a, b Gaussian) (float64, error) {
	if len(a.Mean) != len(b.Mean) {
		return 0, fmt.Errorf("fréchet distance: dimensions %d and %d differ", len(a.Mean), len(b.Mean))
	}
	var d float64
	for i := range a.Mean {
		diff := a.Mean[i] - b.Mean[i]
		d += diff * diff
	}
	if !finite(a) || !finite(b) {
		return 0, fmt.Errorf("fréchet distance: features are not finite")
	}
	rootA, err := sqrtSym(a.Cov)
	if err != nil {
		return 0, err
	}
	var m mat.Dense
	m.Mul(rootA, b.Cov)
	m.Mul(&m, rootA)
	n, _ := m.Dims()
	sym := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			sym.SetSym(i, j, (m.At(i, j)+m.At(j, i))/2) // symmetric up to rounding
		}
	}
	values, _, err := eigenSym(sym, false)
	if err != nil {
		return 0, err
	}
	var traceRoot float64
	for _, v := range values {
		traceRoot += math.Sqrt(max(v, 0))
	}
	// tr((Σ₁Σ₂)^½) ≤ √(tr Σ₁ · tr Σ₂): a check that the decomposition is sound.
	ta, tb := mat.Trace(a.Cov), mat.Trace(b.Cov)
	if bound := math.Sqrt(ta * tb); !(traceRoot <= bound*(1+1e-6)+1e-9) {
		return 0, fmt.Errorf("fréchet distance: inconsistent eigendecomposition (trace %g > bound %g)", traceRoot, bound)
	}
	return d + ta + tb - 2*traceRoot, nil
}

func finite(g Gaussian) bool {
	for _, v := range g.Mean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return !math.IsNaN(mat.Sum(g.Cov)) && !math.IsInf(mat.Sum(g.Cov), 0)
}

// eigenSym returns the eigenvalues (and, if asked, eigenvectors as columns) of a
// symmetric matrix, by cyclic Jacobi rotations.
//
// Not gonum's EigenSym: gonum v0.11's LAPACK mishandles blocks of tiny entries (its
// eigenvalue-only routine panics, its eigenvector routine returned eigenvalues of 1e127,
// and after a rescaling work-around a DCGAN's feature covariance still came back with a
// trace of 4e64). Covariances of generators with dead or nearly constant features are
// exactly such matrices. Jacobi's method is slower (well under a second at the
// classifier's feature size) but unconditionally stable, and accurate to rounding for
// every eigenvalue, small ones included.
func eigenSym(s *mat.SymDense, vectors bool) ([]float64, *mat.Dense, error) {
	n := s.SymmetricDim()
	a := make([]float64, n*n)
	for i := range n {
		for j := range n {
			a[i*n+j] = s.At(i, j)
		}
	}
	v := make([]float64, n*n)
	for i := range n {
		v[i*n+i] = 1
	}
	if err := jacobi(a, v, n); err != nil {
		return nil, nil, err
	}
	// Ascending order, as LAPACK returns them.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return a[order[i]*n+order[i]] < a[order[j]*n+order[j]] })
	values := make([]float64, n)
	for i, k := range order {
		values[i] = a[k*n+k]
	}
	var vecs *mat.Dense
	if vectors {
		vecs = mat.NewDense(n, n, nil)
		for i, k := range order {
			for r := range n {
				vecs.Set(r, i, v[r*n+k])
			}
		}
	}
	return values, vecs, nil
}

// jacobi diagonalises the symmetric n×n matrix a in place, accumulating the rotations into
// v (V ← V·J for each rotation J, so that A = V·diag(a)·Vᵀ at the end). Each rotation zeroes
// one off-diagonal pair; sweeps repeat until the off-diagonal mass is below 1e-30 of the
// whole (rounding level), which takes a handful of sweeps for any input.
func jacobi(a, v []float64, n int) error {
	total := 0.0
	for _, x := range a {
		total += x * x
	}
	if total == 0 || math.IsNaN(total) || math.IsInf(total, 0) {
		if total == 0 {
			return nil
		}
		return fmt.Errorf("eigendecomposition: matrix is not finite")
	}
	for sweep := 0; sweep < 100; sweep++ {
		off := 0.0
		for p := range n {
			for q := p + 1; q < n; q++ {
				off += 2 * a[p*n+q] * a[p*n+q]
			}
		}
		if off <= 1e-30*total {
			return nil
		}
		for p := range n {
			for q := p + 1; q < n; q++ {
				apq := a[p*n+q]
				if apq == 0 {
					continue
				}
				// The angle that zeroes a[p][q]: t = tan φ, the smaller root of
				// t² + 2θt − 1 = 0 with θ = (a_qq − a_pp) / (2 a_pq).
				theta := (a[q*n+q] - a[p*n+p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				sn := t * c
				for k := range n { // columns p and q: A·J
					akp, akq := a[k*n+p], a[k*n+q]
					a[k*n+p], a[k*n+q] = c*akp-sn*akq, sn*akp+c*akq
				}
				for k := range n { // rows p and q: Jᵀ·(A·J)
					apk, aqk := a[p*n+k], a[q*n+k]
					a[p*n+k], a[q*n+k] = c*apk-sn*aqk, sn*apk+c*aqk
				}
				a[p*n+q], a[q*n+p] = 0, 0
				for k := range n {
					vkp, vkq := v[k*n+p], v[k*n+q]
					v[k*n+p], v[k*n+q] = c*vkp-sn*vkq, sn*vkp+c*vkq
				}
			}
		}
	}
	return fmt.Errorf("eigendecomposition: Jacobi rotations did not converge")
}

// sqrtSym returns the symmetric square root of a positive semi-definite matrix.
func sqrtSym(s *mat.SymDense) (*mat.Dense, error) {
	values, vecs, err := eigenSym(s, true)
	if err != nil {
		return nil, fmt.Errorf("matrix square root: %w", err)
	}
	n := len(values)
	scaled := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			scaled.Set(i, j, vecs.At(i, j)*math.Sqrt(max(values[j], 0)))
		}
	}
	var root mat.Dense
	root.Mul(scaled, vecs.T())
	return &root, nil
}

// InceptionScore returns exp(E_x KL(p(y|x) ‖ p(y))) for n rows of k class probabilities,
// as the mean and standard deviation over `splits` equal parts (10 in the literature). It
// ranges from 1 (every image the same class distribution) to k (confident and balanced).
func InceptionScore(probs []float32, n, k, splits int) (mean, std float64, err error) {
	if splits < 1 || n < splits || len(probs) != n*k {
		return 0, 0, fmt.Errorf("inception score: %d values for %d rows of %d classes in %d splits", len(probs), n, k, splits)
	}
	scores := make([]float64, splits)
	for s := range splits {
		lo, hi := s*n/splits, (s+1)*n/splits
		marginal := make([]float64, k)
		for i := lo; i < hi; i++ {
			for c, p := range probs[i*k : (i+1)*k] {
				marginal[c] += float64(p)
			}
		}
		for c := range marginal {
			marginal[c] /= float64(hi - lo)
		}
		var kl float64
		for i := lo; i < hi; i++ {
			for c, p := range probs[i*k : (i+1)*k] {
				if p > 0 {
					kl += float64(p) * (math.Log(float64(p)) - math.Log(marginal[c]))
				}
			}
		}
		scores[s] = math.Exp(kl / float64(hi-lo))
	}
	for _, s := range scores {
		mean += s
	}
	mean /= float64(splits)
	for _, s := range scores {
		std += (s - mean) * (s - mean)
	}
	return mean, math.Sqrt(std / float64(splits)), nil
}

// ClassHistogram returns the fraction of rows whose most probable class is each class.
func ClassHistogram(probs []float32, n, k int) []float64 {
	h := make([]float64, k)
	for i := range n {
		best := 0
		row := probs[i*k : (i+1)*k]
		for c, p := range row {
			if p > row[best] {
				best = c
			}
		}
		h[best]++
	}
	for c := range h {
		h[c] /= float64(n)
	}
	return h
}
