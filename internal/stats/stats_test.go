package stats

import (
	"compress/gzip"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/aigc-go/aigc/internal/rng"
)

// samples draws n rows of dim independent N(mean, scale²) values.
func samples(n, dim int, mean, scale float64, seed uint64) []float32 {
	r := rng.New(seed)
	out := make([]float32, n*dim)
	for i := range out {
		out[i] = float32(mean + scale*r.NormFloat64())
	}
	return out
}

func TestFitRecoversMoments(t *testing.T) {
	g, err := Fit(samples(20000, 3, 2, 3, 1), 20000, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if math.Abs(g.Mean[i]-2) > 0.1 || math.Abs(g.Cov.At(i, i)-9) > 0.3 {
			t.Fatalf("mean %v, var %v; want 2 and 9", g.Mean[i], g.Cov.At(i, i))
		}
	}
	if _, err := Fit([]float32{1, 2}, 1, 2); err == nil {
		t.Fatal("one row accepted")
	}
}

// For diagonal Gaussians the distance has a closed form:
// Σ(μ₁−μ₂)² + Σ(σ₁−σ₂)².
func TestFrechetDistanceClosedForm(t *testing.T) {
	fit := func(data []float32) Gaussian {
		g, err := Fit(data, len(data)/4, 4)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	a := fit(samples(50000, 4, 0, 1, 2))
	b := fit(samples(50000, 4, 1, 2, 3))
	d, err := FrechetDistance(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4*1.0 + 4*1.0; math.Abs(d-want) > 0.15 {
		t.Fatalf("distance %v, want about %v", d, want)
	}
	self, _ := FrechetDistance(a, a)
	if math.Abs(self) > 1e-9 {
		t.Fatalf("distance to itself %v", self)
	}
}

func TestInceptionScoreBounds(t *testing.T) {
	const n, k = 100, 10
	confident := make([]float32, n*k) // balanced one-hot: the maximum, k
	uniform := make([]float32, n*k)   // every row uniform: the minimum, 1
	for i := range n {
		confident[i*k+i%k] = 1
		for c := range k {
			uniform[i*k+c] = 0.1
		}
	}
	if s, _, err := InceptionScore(confident, n, k, 10); err != nil || math.Abs(s-10) > 1e-9 {
		t.Fatalf("confident and balanced: %v %v", s, err)
	}
	if s, _, _ := InceptionScore(uniform, n, k, 10); math.Abs(s-1) > 1e-6 {
		t.Fatalf("uniform: %v", s)
	}
	h := ClassHistogram(confident, n, k)
	if h[3] != 0.1 {
		t.Fatalf("histogram %v", h)
	}
}

// A collapsed generator: every sample the same, a zero (or tiny) covariance. The distance
// is still defined: |Δμ|² + tr Σ_ref.
func TestFrechetDistanceOfACollapsedSet(t *testing.T) {
	ref, _ := Fit(samples(5000, 3, 0, 1, 4), 5000, 3)
	for _, jitter := range []float64{0, 1e-170} {
		same := make([]float32, 3*100)
		for i := range same {
			same[i] = float32(2 + jitter*float64(i%7))
		}
		g, err := Fit(same, 100, 3)
		if err != nil {
			t.Fatal(err)
		}
		d, err := FrechetDistance(g, ref)
		if err != nil {
			t.Fatal(err)
		}
		if want := 3*4.0 + mat.Trace(ref.Cov); math.Abs(d-want) > 0.2 {
			t.Fatalf("jitter %g: distance %v, want about %v", jitter, d, want)
		}
	}
}

// A block of tiny entries in an otherwise ordinary matrix (dead features of a generator)
// sends gonum v0.11's eigenvalue-only routine down a rescaling path that panics; eigenSym
// must not.
func TestEigenSymWithATinyBlock(t *testing.T) {
	s := mat.NewSymDense(4, []float64{
		1, 0, 0, 0,
		0, 1e-140, 1e-141, 0,
		0, 1e-141, 1e-140, 1e-141,
		0, 0, 1e-141, 2e-140,
	})
	values, _, err := eigenSym(s, false)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(values[3]-1) > 1e-12 {
		t.Fatalf("eigenvalues %v", values)
	}
}

// Dead features (always zero in the generated set) make Σ₁ singular, and Σ₁^½Σ₂Σ₁^½ full of
// entries that are zero but for rounding. The distance must equal the one computed on the
// live features alone plus the dead features' share of tr Σ₂ and |Δμ|².
func TestFrechetDistanceWithDeadFeatures(t *testing.T) {
	const n, dim, dead = 3000, 128, 48
	gen := samples(n, dim, 0.5, 1, 5)
	for i := range n {
		for j := range dead {
			gen[i*dim+j*2] = 0 // every other feature of the first 96 never fires
		}
	}
	ref := samples(n, dim, 0, 1.5, 6)
	a, _ := Fit(gen, n, dim)
	b, _ := Fit(ref, n, dim)
	d, err := FrechetDistance(a, b)
	if err != nil {
		t.Fatal(err)
	}
	live := func(data []float32) []float32 {
		var out []float32
		for i := range n {
			for j := range dim {
				if j >= 2*dead || j%2 == 1 {
					out = append(out, data[i*dim+j])
				}
			}
		}
		return out
	}
	la, _ := Fit(live(gen), n, dim-dead)
	lb, _ := Fit(live(ref), n, dim-dead)
	want, err := FrechetDistance(la, lb)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 2*dead; j += 2 { // the dead features' own terms
		want += b.Mean[j]*b.Mean[j] + b.Cov.At(j, j)
	}
	if math.Abs(d-want) > 1e-6*want {
		t.Fatalf("distance %v, on live features %v", d, want)
	}
}

// The matrix Σ₁^½Σ₂Σ₁^½ of a real MLP GAN checkpoint (epoch 46 of the default run) on which
// gonum's LAPACK returned eigenvalues of 1e127, giving an FID of -6.8e64. A symmetric
// positive semi-definite matrix has eigenvalues between 0 and its trace.
func TestEigenSymOfARealCollapsedGAN(t *testing.T) {
	f, err := os.Open("testdata/collapsed_gan_m.bin.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	const n = 128
	data := make([]float64, n*n)
	if err := binary.Read(zr, binary.LittleEndian, data); err != nil {
		t.Fatal(err)
	}
	m := mat.NewSymDense(n, data)
	values, _, err := eigenSym(m, false)
	if err != nil {
		t.Fatal(err)
	}
	trace := mat.Trace(m)
	for _, v := range values {
		if v < -1e-6*trace || v > trace*(1+1e-9) {
			t.Fatalf("eigenvalue %g outside [0, trace %g]", v, trace)
		}
	}
}

// Jacobi's eigendecomposition reconstructs the matrix with orthonormal eigenvectors, for
// ordinary matrices and for ones spanning 40 orders of magnitude.
func TestEigenSymReconstructs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, spread := range []float64{0, 20} {
		const n = 40
		b := mat.NewDense(n, n, nil)
		for i := range n {
			for j := range n {
				b.Set(i, j, r.NormFloat64()*math.Pow(10, -spread*float64(j)/n))
			}
		}
		var s mat.SymDense
		s.SymOuterK(1, b)
		values, vecs, err := eigenSym(&s, true)
		if err != nil {
			t.Fatal(err)
		}
		var back, vtv mat.Dense
		back.Mul(vecs, mat.NewDiagDense(n, values))
		back.Mul(&back, vecs.T())
		vtv.Mul(vecs.T(), vecs)
		for i := range n {
			if i > 0 && values[i] < values[i-1] {
				t.Fatalf("eigenvalues not ascending: %v", values)
			}
			for j := range n {
				if d := math.Abs(back.At(i, j) - s.At(i, j)); d > 1e-12*values[n-1] {
					t.Fatalf("spread %g: reconstruction off by %g at (%d, %d)", spread, d, i, j)
				}
				if d := math.Abs(vtv.At(i, j) - b2f(i == j)); d > 1e-12 {
					t.Fatalf("spread %g: eigenvectors not orthonormal (%g at %d, %d)", spread, d, i, j)
				}
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
