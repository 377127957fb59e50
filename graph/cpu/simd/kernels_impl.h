// The fast float32 kernels of the CPU device, written as plain loops that GCC vectorises.
// This file is compiled three times (kernels_avx512.c, kernels_avx2.c, kernels_sse2.c),
// each time for another instruction set and with another suffix on every name; dispatch.c
// picks one set at start. Go splits work across threads and calls these on ranges.
//
// Pointers may alias where an op runs in place (y == x), so none is restrict; GCC checks
// at run time and vectorises either way. Sums are accumulated in double in 16 lanes,
// which vectorises without reassociating a single sum and keeps a fixed order.

#include "vmath.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define NAME(f) CAT(f, AIGC_SUFFIX)

#define LANES 16

// sum_lanes adds the 16 partial sums of a lane accumulator.
static inline double sum_lanes(const double *acc) {
	double s = 0;
	for (int j = 0; j < LANES; j++) {
		s += acc[j];
	}
	return s;
}

// sum_d returns Σx in double.
static inline double sum_d(const float *x, long n) {
	double acc[LANES] = {0};
	long i = 0;
	for (; i + LANES <= n; i += LANES) {
		for (int j = 0; j < LANES; j++) {
			acc[j] += (double)x[i + j];
		}
	}
	double s = 0;
	for (; i < n; i++) {
		s += (double)x[i];
	}
	return s + sum_lanes(acc);
}

// Element-wise arithmetic.

void NAME(aigc_add)(float *y, const float *a, const float *b, long n) {
	for (long i = 0; i < n; i++) {
		y[i] = a[i] + b[i];
	}
}

void NAME(aigc_sub)(float *y, const float *a, const float *b, long n) {
	for (long i = 0; i < n; i++) {
		y[i] = a[i] - b[i];
	}
}

void NAME(aigc_mul)(float *y, const float *a, const float *b, long n) {
	for (long i = 0; i < n; i++) {
		y[i] = a[i] * b[i];
	}
}

void NAME(aigc_affine)(float *y, const float *x, float s, float c, long n) {
	for (long i = 0; i < n; i++) {
		y[i] = s * x[i] + c;
	}
}

// The functions of exec.MapFn, in its order.
enum { MAP_RELU, MAP_LEAKY, MAP_TANH, MAP_SIGMOID, MAP_EXP, MAP_SQUARE };

void NAME(aigc_map)(int fn, float alpha, float *y, const float *x, long n) {
	switch (fn) {
	case MAP_RELU:
		for (long i = 0; i < n; i++) {
			y[i] = vm_sel(x[i] > 0.0f, x[i], 0.0f);
		}
		break;
	case MAP_LEAKY:
		for (long i = 0; i < n; i++) {
			y[i] = vm_sel(x[i] > 0.0f, x[i], alpha * x[i]);
		}
		break;
	case MAP_TANH:
		for (long i = 0; i < n; i++) {
			y[i] = vm_tanh(x[i]);
		}
		break;
	case MAP_SIGMOID:
		for (long i = 0; i < n; i++) {
			y[i] = vm_sigmoid(x[i]);
		}
		break;
	case MAP_EXP:
		for (long i = 0; i < n; i++) {
			y[i] = vm_exp(x[i]);
		}
		break;
	case MAP_SQUARE:
		for (long i = 0; i < n; i++) {
			y[i] = x[i] * x[i];
		}
		break;
	}
}

// aigc_map_grad is dx = dy·f'(·) from the output y (or the input x, for square).
void NAME(aigc_map_grad)(int fn, float alpha, float *dx, const float *y, const float *dy, long n) {
	switch (fn) {
	case MAP_RELU:
		for (long i = 0; i < n; i++) {
			dx[i] = vm_sel(y[i] > 0.0f, dy[i], 0.0f);
		}
		break;
	case MAP_LEAKY:
		for (long i = 0; i < n; i++) {
			dx[i] = vm_sel(y[i] > 0.0f, dy[i], alpha * dy[i]);
		}
		break;
	case MAP_TANH:
		for (long i = 0; i < n; i++) {
			dx[i] = dy[i] * (1.0f - y[i] * y[i]);
		}
		break;
	case MAP_SIGMOID:
		for (long i = 0; i < n; i++) {
			dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
		}
		break;
	case MAP_EXP:
		for (long i = 0; i < n; i++) {
			dx[i] = dy[i] * y[i];
		}
		break;
	case MAP_SQUARE:
		for (long i = 0; i < n; i++) {
			dx[i] = dy[i] * (2.0f * y[i]);
		}
		break;
	}
}

// Bias.

// aigc_add_bias_rows is y[r, j] = x[r, j] + b[j] over rows of n.
void NAME(aigc_add_bias_rows)(float *y, const float *x, const float *b, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * n;
		const float *xr = x + r * n;
		for (long j = 0; j < n; j++) {
			yr[j] = xr[j] + b[j];
		}
	}
}

// aigc_col_sums is db[j] = Σ_r dy[r, j] over n columns of rows ld apart, the rows added
// in order.
void NAME(aigc_col_sums)(float *db, const float *dy, long rows, long n, long ld) {
	for (long j = 0; j < n; j++) {
		db[j] = 0.0f;
	}
	for (long r = 0; r < rows; r++) {
		const float *row = dy + r * ld;
		for (long j = 0; j < n; j++) {
			db[j] += row[j];
		}
	}
}

// Binary cross-entropy from logits.

// aigc_bce_rows is out[r] = Σ_i max(l,0) − t·l + log1p(e^−|l|) over each row.
void NAME(aigc_bce_rows)(float *out, const float *l, const float *t, long rows, long cols) {
	float terms[256];
	for (long r = 0; r < rows; r++) {
		double acc[LANES] = {0};
		double rest = 0;
		for (long c0 = 0; c0 < cols; c0 += 256) {
			long m = cols - c0 < 256 ? cols - c0 : 256;
			const float *lr = l + r * cols + c0, *tr = t + r * cols + c0;
			for (long i = 0; i < m; i++) {
				float x = lr[i];
				terms[i] = vm_sel(x > 0.0f, x, 0.0f) - tr[i] * x + vm_log1p(vm_exp(-__builtin_fabsf(x)));
			}
			long i = 0;
			for (; i + LANES <= m; i += LANES) {
				for (int j = 0; j < LANES; j++) {
					acc[j] += (double)terms[i + j];
				}
			}
			for (; i < m; i++) {
				rest += (double)terms[i];
			}
		}
		out[r] = (float)(rest + sum_lanes(acc));
	}
}

// aigc_bce_grad is dl[r, i] = (σ(l) − t)·g[r].
void NAME(aigc_bce_grad)(float *dl, const float *l, const float *t, const float *g, long rows, long cols) {
	for (long r = 0; r < rows; r++) {
		float gr = g[r];
		float *d = dl + r * cols;
		const float *lr = l + r * cols, *tr = t + r * cols;
		for (long i = 0; i < cols; i++) {
			d[i] = (vm_sigmoid(lr[i]) - tr[i]) * gr;
		}
	}
}

// Softmax cross-entropy.

// row_max returns the largest element of a non-empty row (NaNs ignored: they make the
// sum, and so the loss, NaN anyway).
static inline float row_max(const float *x, long n) {
	float acc[LANES];
	for (int j = 0; j < LANES; j++) {
		acc[j] = x[0];
	}
	long i = 0;
	for (; i + LANES <= n; i += LANES) {
		for (int j = 0; j < LANES; j++) {
			acc[j] = vm_sel(x[i + j] > acc[j], x[i + j], acc[j]);
		}
	}
	float m = x[0];
	for (; i < n; i++) {
		m = x[i] > m ? x[i] : m;
	}
	for (int j = 0; j < LANES; j++) {
		m = acc[j] > m ? acc[j] : m;
	}
	return m;
}

// sum_exp_shift returns Σ e^(x−m) in double, writing the exponentials to e.
static inline double sum_exp_shift(float *e, const float *x, float m, long n) {
	for (long i = 0; i < n; i++) {
		e[i] = vm_exp(x[i] - m);
	}
	return sum_d(e, n);
}

// aigc_xent_stats is each row's max m and log Σ e^(x−m): st[2r], st[2r+1]. work holds at
// least k floats.
void NAME(aigc_xent_stats)(float *st, const float *l, long rows, long k, float *work) {
	for (long r = 0; r < rows; r++) {
		const float *row = l + r * k;
		float m = row_max(row, k);
		double s = sum_exp_shift(work, row, m, k);
		st[2 * r] = m;
		st[2 * r + 1] = (float)__builtin_log(s);
	}
}

// aigc_xent_grad is dl[r, i] = e^(l−m−lse)·g[r]; the caller subtracts g[r] at the label.
void NAME(aigc_xent_grad)(float *dl, const float *l, const float *st, const float *g, long rows, long k) {
	for (long r = 0; r < rows; r++) {
		float shift = st[2 * r] + st[2 * r + 1], gr = g[r];
		const float *row = l + r * k;
		float *d = dl + r * k;
		for (long i = 0; i < k; i++) {
			d[i] = vm_exp(row[i] - shift) * gr;
		}
	}
}

// GELU.

void NAME(aigc_gelu)(float *y, const float *x, long n) {
	for (long i = 0; i < n; i++) {
		float c, p;
		vm_normal(x[i], &c, &p);
		y[i] = x[i] * c;
	}
}

void NAME(aigc_gelu_grad)(float *dx, const float *x, const float *dy, long n) {
	for (long i = 0; i < n; i++) {
		float c, p;
		vm_normal(x[i], &c, &p);
		dx[i] = dy[i] * VM_FMA(x[i], p, c);
	}
}

// Layer normalisation over rows of d.

// aigc_ln_stats is each row's mean and 1/√(var+eps), the variance from the deviations.
void NAME(aigc_ln_stats)(float *st, const float *x, long rows, long d, float eps) {
	for (long r = 0; r < rows; r++) {
		const float *row = x + r * d;
		double mean = sum_d(row, d) / (double)d;
		double acc[LANES] = {0};
		double rest = 0;
		long i = 0;
		for (; i + LANES <= d; i += LANES) {
			for (int j = 0; j < LANES; j++) {
				double dv = (double)row[i + j] - mean;
				acc[j] += dv * dv;
			}
		}
		for (; i < d; i++) {
			double dv = (double)row[i] - mean;
			rest += dv * dv;
		}
		double var = (rest + sum_lanes(acc)) / (double)d;
		st[2 * r] = (float)mean;
		st[2 * r + 1] = (float)(1.0 / __builtin_sqrt(var + (double)eps));
	}
}

void NAME(aigc_ln_fwd)(float *y, const float *x, const float *gamma, const float *beta, const float *st, long rows, long d) {
	for (long r = 0; r < rows; r++) {
		float mean = st[2 * r], rstd = st[2 * r + 1];
		const float *xr = x + r * d;
		float *yr = y + r * d;
		for (long j = 0; j < d; j++) {
			yr[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j];
		}
	}
}

// ln_sums returns Σ g and Σ g·x̂ of a row (g = dy·γ, x̂ = (x − mean)·rstd) in double.
static inline void ln_sums(const float *restrict x, const float *restrict gamma, const float *restrict dy, float mean,
                           float rstd, long d, double *sg, double *sgx) {
	double a[LANES] = {0}, b[LANES] = {0};
	double ra = 0, rb = 0;
	long i = 0;
	for (; i + LANES <= d; i += LANES) {
		for (int j = 0; j < LANES; j++) {
			float g = dy[i + j] * gamma[i + j];
			a[j] += (double)g;
			b[j] += (double)(g * ((x[i + j] - mean) * rstd));
		}
	}
	for (; i < d; i++) {
		float g = dy[i] * gamma[i];
		ra += (double)g;
		rb += (double)(g * ((x[i] - mean) * rstd));
	}
	*sg = ra + sum_lanes(a);
	*sgx = rb + sum_lanes(b);
}

// aigc_ln_grad_x is dx = (g − mean(g) − x̂·mean(g·x̂))·rstd with g = dy·γ, the means in
// double.
void NAME(aigc_ln_grad_x)(float *dx, const float *x, const float *gamma, const float *st, const float *dy, long rows, long d) {
	for (long r = 0; r < rows; r++) {
		float mean = st[2 * r], rstd = st[2 * r + 1];
		const float *xr = x + r * d, *dyr = dy + r * d;
		float *dxr = dx + r * d;
		double a, b;
		ln_sums(xr, gamma, dyr, mean, rstd, d, &a, &b);
		float sg = (float)(a / (double)d), sgx = (float)(b / (double)d);
		for (long j = 0; j < d; j++) {
			float g = dyr[j] * gamma[j];
			float xh = (xr[j] - mean) * rstd;
			dxr[j] = (g - sg - xh * sgx) * rstd;
		}
	}
}

// aigc_ln_grad_gamma adds Σ_rows dy·x̂ into dg (which the caller zeroes).
void NAME(aigc_ln_grad_gamma)(float *dg, const float *x, const float *st, const float *dy, long rows, long d) {
	for (long r = 0; r < rows; r++) {
		float mean = st[2 * r], rstd = st[2 * r + 1];
		const float *xr = x + r * d, *dyr = dy + r * d;
		for (long j = 0; j < d; j++) {
			dg[j] += dyr[j] * ((xr[j] - mean) * rstd);
		}
	}
}

// Softmax over rows, for attention.

// aigc_softmax_rows turns each row of s into probabilities in place: with causal, row i
// keeps columns ≤ i (offset by diag: row i keeps columns ≤ i + diag); with a mask, only
// columns whose mask is not 0. A row with nothing to attend to becomes zeros.
void NAME(aigc_softmax_rows)(float *s, long rows, long cols, int causal, long diag, const float *mask) {
	for (long i = 0; i < rows; i++) {
		float *row = s + i * cols;
		long end = cols;
		if (causal) {
			end = i + diag + 1 < cols ? i + diag + 1 : cols;
		}
		float m = -__builtin_inff();
		for (long j = 0; j < end; j++) {
			float v = mask == 0 ? row[j] : vm_sel(mask[j] != 0.0f, row[j], -__builtin_inff());
			m = vm_sel(v > m, v, m);
		}
		if (m == -__builtin_inff()) {
			for (long j = 0; j < cols; j++) {
				row[j] = 0.0f;
			}
			continue;
		}
		for (long j = 0; j < end; j++) {
			float e = vm_exp(row[j] - m);
			row[j] = mask == 0 ? e : vm_sel(mask[j] != 0.0f, e, 0.0f);
		}
		for (long j = end; j < cols; j++) {
			row[j] = 0.0f;
		}
		float inv = (float)(1.0 / sum_d(row, end));
		for (long j = 0; j < end; j++) {
			row[j] *= inv;
		}
	}
}

// aigc_softmax_grad_rows is out = p ⊙ (dp − Σ_row dp⊙p), the dot in double.
void NAME(aigc_softmax_grad_rows)(float *out, const float *p, const float *dp, long rows, long cols) {
	for (long i = 0; i < rows; i++) {
		const float *pr = p + i * cols, *dr = dp + i * cols;
		float *o = out + i * cols;
		double acc[LANES] = {0};
		double rest = 0;
		long j = 0;
		for (; j + LANES <= cols; j += LANES) {
			for (int q = 0; q < LANES; q++) {
				acc[q] += (double)dr[j + q] * (double)pr[j + q];
			}
		}
		for (; j < cols; j++) {
			rest += (double)dr[j] * (double)pr[j];
		}
		float dot = (float)(rest + sum_lanes(acc));
		for (long k = 0; k < cols; k++) {
			o[k] = pr[k] * (dr[k] - dot);
		}
	}
}

// LSTM cells over rows of h units, for one step of a sequence.

// lstm_fwd_row is one row of the cell: pre-activation gates (i, f, g, o), the previous
// cell state, and the tape columns written (h, c, i, f, g, o). Its arguments never
// overlap (the previous state is the previous step's), hence restrict; a function of its
// own, so that GCC sees plain pointers and vectorises it.
static inline void lstm_fwd_row(float *restrict th, float *restrict tc, float *restrict ti, float *restrict tf,
                                float *restrict tg, float *restrict to, const float *restrict ai,
                                const float *restrict af, const float *restrict ag, const float *restrict ao,
                                const float *restrict cp, long h) {
	for (long j = 0; j < h; j++) {
		float i = vm_sigmoid(ai[j]), f = vm_sigmoid(af[j]);
		float g = vm_tanh(ag[j]), o = vm_sigmoid(ao[j]);
		float c = f * cp[j] + i * g;
		th[j] = o * vm_tanh(c);
		tc[j] = c;
		ti[j] = i;
		tf[j] = f;
		tg[j] = g;
		to[j] = o;
	}
}

// aigc_lstm_fwd: gates [rows, 4H] (pre-activation, PyTorch's order i, f, g, o), cprev
// rows with stride ldc; writes the tape rows [rows, 6H]: h, c, i, f, g, o.
void NAME(aigc_lstm_fwd)(float *tape, const float *gates, const float *cprev, long ldc, long rows, long h) {
	for (long r = 0; r < rows; r++) {
		const float *a = gates + r * 4 * h;
		float *t = tape + r * 6 * h;
		lstm_fwd_row(t, t + h, t + 2 * h, t + 3 * h, t + 4 * h, t + 5 * h, a, a + h, a + 2 * h, a + 3 * h,
		             cprev + r * ldc, h);
	}
}

// lstm_bwd_row is one row of backpropagation through the cell.
static inline void lstm_bwd_row(float *restrict di, float *restrict df, float *restrict dg, float *restrict dout,
                                float *restrict dcn, const float *restrict dhn, const float *restrict tc,
                                const float *restrict ti, const float *restrict tf, const float *restrict tg,
                                const float *restrict to, const float *restrict dth, const float *restrict dtc,
                                const float *restrict cp, long h) {
	for (long j = 0; j < h; j++) {
		float c = tc[j], i = ti[j], f = tf[j], g = tg[j], o = to[j];
		float t = vm_tanh(c);
		float dh = dth[j] + dhn[j];
		float dc = dtc[j] + dcn[j] + dh * o * (1.0f - t * t);
		di[j] = dc * g * i * (1.0f - i);
		df[j] = dc * cp[j] * f * (1.0f - f);
		dg[j] = dc * i * (1.0f - g * g);
		dout[j] = dh * t * o * (1.0f - o);
		dcn[j] = dc * f;
	}
}

// aigc_lstm_bwd: one step of backpropagation through time over rows, from the tape rows
// and their gradient (h and c columns), the next step's dh and dc (updated in place: dc
// becomes this step's dc·f), into the pre-activation gradients da [rows, 4H].
void NAME(aigc_lstm_bwd)(float *da, const float *dhnext, float *dcnext, const float *tape, const float *dtape,
                         const float *cprev, long ldc, long rows, long h) {
	for (long r = 0; r < rows; r++) {
		const float *t = tape + r * 6 * h, *dt = dtape + r * 6 * h;
		float *d = da + r * 4 * h;
		lstm_bwd_row(d, d + h, d + 2 * h, d + 3 * h, dcnext + r * h, dhnext + r * h, t + h, t + 2 * h, t + 3 * h,
		             t + 4 * h, t + 5 * h, dt, dt + h, cprev + r * ldc, h);
	}
}

// The optimiser.

// aigc_adam is one fused pass over a parameter: the gradient scaled (clipping), AdamW's
// decay, Adam's moments and bias-corrected step, and the moving average (avg may be 0).
// It runs in blocks that stay in L1: the moments, their square roots, then the weights.
void NAME(aigc_adam)(float *w, const float *g, float *m, float *v, float *avg, long n, float scale, float shrink,
                     float b1, float b2, float step, float invbc2, float eps, float rate) {
	float root[256];
	for (long s = 0; s < n; s += 256) {
		long k = n - s < 256 ? n - s : 256;
		float *ws = w + s, *ms = m + s, *vs = v + s;
		const float *gs = g + s;
		for (long j = 0; j < k; j++) {
			float gj = gs[j] * scale;
			ms[j] = b1 * ms[j] + (1.0f - b1) * gj;
			vs[j] = b2 * vs[j] + (1.0f - b2) * gj * gj;
		}
		vm_sqrt_n(root, vs, k);
		for (long j = 0; j < k; j++) {
			ws[j] = ws[j] * shrink - step * ms[j] / (root[j] * invbc2 + eps);
		}
		if (avg) {
			float *as = avg + s;
			for (long j = 0; j < k; j++) {
				as[j] = rate * as[j] + (1.0f - rate) * ws[j];
			}
		}
	}
}

void NAME(aigc_ema)(float *avg, const float *w, long n, float d) {
	for (long j = 0; j < n; j++) {
		avg[j] = d * avg[j] + (1.0f - d) * w[j];
	}
}

double NAME(aigc_sumsq)(const float *x, long n) {
	double acc[LANES] = {0};
	long i = 0;
	for (; i + LANES <= n; i += LANES) {
		for (int j = 0; j < LANES; j++) {
			acc[j] += (double)x[i + j] * (double)x[i + j];
		}
	}
	double s = 0;
	for (; i < n; i++) {
		s += (double)x[i] * (double)x[i];
	}
	return s + sum_lanes(acc);
}
