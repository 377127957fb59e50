package cpu

import (
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// Layer normalisation and batch normalisation.

func init() {
	register("LayerNormStats", lnStatsKernel[float32], lnStatsKernel[float64])
	register("LayerNorm", lnKernel[float32], lnKernel[float64])
	register("LayerNormGradX", lnGradXKernel[float32], lnGradXKernel[float64])
	register("LayerNormGradGamma", lnGradGammaKernel[float32], lnGradGammaKernel[float64])
	register("BatchNormStats", bnStatsKernel[float32], bnStatsKernel[float64])
	register("BatchNormEvalStats", bnEvalStatsKernel[float32], bnEvalStatsKernel[float64])
	register("BatchNorm", bnKernel[float32], bnKernel[float64])
	register("BatchNormSums", bnSumsKernel[float32], bnSumsKernel[float64])
	register("BatchNormRow", bnRowKernel[float32], bnRowKernel[float64])
	register("BatchNormInputGrad", bnInputGradKernel[float32], bnInputGradKernel[float64])
}

// lnRows is the fewest rows of d features worth a thread.
func lnRows(d int) int { return max(1, 8192/d) }

// lnStatsKernel computes each row's mean and 1/√(biased var + eps), in float64.
func lnStatsKernel[T float](p *exec.Prep) (exec.Launch, error) {
	eps := p.Op.(exec.LayerNormStats).Eps
	st, x := data[T](p.Out), data[T](p.In[0])
	d := p.In[0].Shape[1]
	return launch(len(st)/2, lnRows(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x[r*d : (r+1)*d]
			mean := sumFloat64(row) / float64(d)
			var ss float64
			for _, v := range row {
				dv := float64(v) - mean
				ss += dv * dv
			}
			st[2*r], st[2*r+1] = T(mean), T(1/math.Sqrt(ss/float64(d)+eps))
		}
	}), nil
}

func lnKernel[T float](p *exec.Prep) (exec.Launch, error) {
	y, x, gamma, beta, st := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
	d := p.In[0].Shape[1]
	return launch(len(x)/d, lnRows(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			mean, rstd := st[2*r], st[2*r+1]
			for j := range d {
				y[r*d+j] = (x[r*d+j]-mean)*rstd*gamma[j] + beta[j]
			}
		}
	}), nil
}

// lnGradXKernel is dx = (g − mean(g) − x̂·mean(g·x̂))·rstd with g = dy·γ, in float64.
func lnGradXKernel[T float](p *exec.Prep) (exec.Launch, error) {
	dx, x, gamma, st, dy := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
	d := p.In[0].Shape[1]
	return launch(len(x)/d, lnRows(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			mean, rstd := float64(st[2*r]), float64(st[2*r+1])
			var sg, sgx float64
			for j := range d {
				g := float64(dy[r*d+j]) * float64(gamma[j])
				sg += g
				sgx += g * (float64(x[r*d+j]) - mean) * rstd
			}
			sg /= float64(d)
			sgx /= float64(d)
			for j := range d {
				g := float64(dy[r*d+j]) * float64(gamma[j])
				xhat := (float64(x[r*d+j]) - mean) * rstd
				dx[r*d+j] = T((g - sg - xhat*sgx) * rstd)
			}
		}
	}), nil
}

// lnGradGammaKernel is Σ_rows dy·x̂, the rows added in order.
func lnGradGammaKernel[T float](p *exec.Prep) (exec.Launch, error) {
	y, x, st, dy := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2])
	d := p.In[0].Shape[1]
	rows := len(x) / d
	return func() error {
		clear(y)
		for r := range rows {
			mean, rstd := st[2*r], st[2*r+1]
			for j := range d {
				y[j] += dy[r*d+j] * (x[r*d+j] - mean) * rstd
			}
		}
		return nil
	}, nil
}

// BNSplit views a [N, C] or [N, C, H, W] shape as [n, c, inner] around the channel axis.
func BNSplit(s []int) (n, c, inner int) {
	inner = 1
	for _, d := range s[2:] {
		inner *= d
	}
	return s[0], s[1], inner
}

// bnChannels is the fewest channels worth a thread when each covers perChannel elements.
func bnChannels(perChannel int) int { return max(1, 32768/max(perChannel, 1)) }

// bnStatsKernel writes the channel means and 1/√(biased var + eps), from two passes over x
// (the mean, then the squared deviations from it) accumulated in float64, and folds them
// into the running statistics as PyTorch does: running = (1−momentum)·running +
// momentum·batch, with the unbiased variance var·m/(m−1) for running_var; and counts the
// batch.
func bnStatsKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.BatchNormStats)
	st, x, rm, rv, batches := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
	n, c, inner := BNSplit(p.In[0].Shape)
	m := float64(n * inner)
	body := func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := range n {
				s += sumFloat64(x[(i*c+ch)*inner : (i*c+ch+1)*inner])
			}
			mean := s / m
			var q float64
			for i := range n {
				q += sumSqDev64(x[(i*c+ch)*inner:(i*c+ch+1)*inner], mean)
			}
			st[ch] = T(mean)
			st[c+ch] = T(1 / math.Sqrt(q/m+op.Eps))
			rm[ch] = T((1-op.Momentum)*float64(rm[ch]) + op.Momentum*mean)
			rv[ch] = T((1-op.Momentum)*float64(rv[ch]) + op.Momentum*q/(m-1))
		}
	}
	return func() error {
		For(c, bnChannels(n*inner), body)
		batches[0]++
		return nil
	}, nil
}

// sumSqDev64 is Σ(x−mean)² in float64.
func sumSqDev64[T float](x []T, mean float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := float64(x[i])-mean, float64(x[i+1])-mean, float64(x[i+2])-mean, float64(x[i+3])-mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - mean
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func bnEvalStatsKernel[T float](p *exec.Prep) (exec.Launch, error) {
	eps := p.Op.(exec.BatchNormEvalStats).Eps
	st, rm, rv := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	c := len(rm)
	return func() error {
		for ch := range c {
			st[ch] = rm[ch]
			st[c+ch] = T(1 / math.Sqrt(float64(rv[ch])+eps))
		}
		return nil
	}, nil
}

// bnKernel computes y = (x − mean)·(invstd·w) + b, one [inner] plane of one channel of one
// sample at a time.
func bnKernel[T float](p *exec.Prep) (exec.Launch, error) {
	y, x, st, w, b := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
	n, c, inner := BNSplit(p.In[0].Shape)
	return launch(n*c, max(1, 16384/inner), func(lo, hi int) {
		for q := lo; q < hi; q++ {
			ch := q % c
			mean, scale, shift := st[ch], st[c+ch]*w[ch], b[ch]
			xs, ys := x[q*inner:(q+1)*inner], y[q*inner:(q+1)*inner]
			for i, v := range xs {
				ys[i] = (v-mean)*scale + shift
			}
		}
	}), nil
}

// bnSumsKernel computes per channel Σdy (row 0) and Σdy·x̂ (row 1).
func bnSumsKernel[T float](p *exec.Prep) (exec.Launch, error) {
	sums, x, st, dy := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2])
	n, c, inner := BNSplit(p.In[0].Shape)
	return launch(c, bnChannels(n*inner), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean := float64(st[ch])
			var sdy, sdx float64
			for i := range n {
				a, b := sumDot64(dy[(i*c+ch)*inner:(i*c+ch+1)*inner], x[(i*c+ch)*inner:(i*c+ch+1)*inner], mean)
				sdy += a
				sdx += b
			}
			sums[ch] = T(sdy)
			sums[c+ch] = T(sdx * float64(st[c+ch]))
		}
	}), nil
}

// sumDot64 returns Σdy and Σdy·(x−mean) in float64, four terms at a time.
func sumDot64[T float](dy, x []T, mean float64) (float64, float64) {
	x = x[:len(dy)]
	var a0, a1, a2, a3, b0, b1, b2, b3 float64
	i := 0
	for ; i+4 <= len(dy); i += 4 {
		g0, g1, g2, g3 := float64(dy[i]), float64(dy[i+1]), float64(dy[i+2]), float64(dy[i+3])
		a0 += g0
		a1 += g1
		a2 += g2
		a3 += g3
		b0 += g0 * (float64(x[i]) - mean)
		b1 += g1 * (float64(x[i+1]) - mean)
		b2 += g2 * (float64(x[i+2]) - mean)
		b3 += g3 * (float64(x[i+3]) - mean)
	}
	for ; i < len(dy); i++ {
		g := float64(dy[i])
		a0 += g
		b0 += g * (float64(x[i]) - mean)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

func bnRowKernel[T float](p *exec.Prep) (exec.Launch, error) {
	row := p.Op.(exec.BatchNormRow).Row
	v, m := data[T](p.Out), data[T](p.In[0])
	c := p.In[0].Shape[1]
	return func() error {
		copy(v, m[row*c:(row+1)*c])
		return nil
	}, nil
}

// bnInputGradKernel writes dx = k·dy − k·Σdy/m − k·invstd·(Σdy·x̂/m)·(x − mean) with
// k = weight·invstd; without sums (evaluation), dx = k·dy.
func bnInputGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	dx, x, st, w, dy := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2]), data[T](p.In[3])
	var sums []T
	if p.Op.(exec.BatchNormInputGrad).Training {
		sums = data[T](p.In[4])
	}
	n, c, inner := BNSplit(p.In[0].Shape)
	m := float64(n * inner)
	return launch(n*c, max(1, 16384/inner), func(lo, hi int) {
		for q := lo; q < hi; q++ {
			ch := q % c
			k := float64(w[ch]) * float64(st[c+ch])
			dys, dxs := dy[q*inner:(q+1)*inner], dx[q*inner:(q+1)*inner]
			kt := T(k)
			if sums == nil {
				for i, g := range dys {
					dxs[i] = kt * g
				}
				continue
			}
			mean := st[ch]
			shift := T(k * float64(sums[ch]) / m)
			slope := T(k * float64(st[c+ch]) * float64(sums[c+ch]) / m)
			xs := x[q*inner : (q+1)*inner]
			for i, g := range dys {
				dxs[i] = kt*g - shift - slope*(xs[i]-mean)
			}
		}
	}), nil
}
