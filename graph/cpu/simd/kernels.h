// The fast kernels' signatures, as one list (an X-macro) from which dispatch.c declares
// the three builds and defines the entry points Go calls.
#ifndef AIGC_KERNELS_H
#define AIGC_KERNELS_H

#define AIGC_KERNELS(X)                                                                                          \
	X(void, aigc_add, (float *y, const float *a, const float *b, long n), (y, a, b, n))                          \
	X(void, aigc_sub, (float *y, const float *a, const float *b, long n), (y, a, b, n))                          \
	X(void, aigc_mul, (float *y, const float *a, const float *b, long n), (y, a, b, n))                          \
	X(void, aigc_affine, (float *y, const float *x, float s, float c, long n), (y, x, s, c, n))                  \
	X(void, aigc_map, (int fn, float alpha, float *y, const float *x, long n), (fn, alpha, y, x, n))             \
	X(void, aigc_map_grad, (int fn, float alpha, float *dx, const float *y, const float *dy, long n),            \
	  (fn, alpha, dx, y, dy, n))                                                                                 \
	X(void, aigc_add_bias_rows, (float *y, const float *x, const float *b, long rows, long n), (y, x, b, rows, n)) \
	X(void, aigc_col_sums, (float *db, const float *dy, long rows, long n, long ld), (db, dy, rows, n, ld))      \
	X(void, aigc_bce_rows, (float *out, const float *l, const float *t, long rows, long cols),                   \
	  (out, l, t, rows, cols))                                                                                   \
	X(void, aigc_bce_grad, (float *dl, const float *l, const float *t, const float *g, long rows, long cols),    \
	  (dl, l, t, g, rows, cols))                                                                                 \
	X(void, aigc_xent_stats, (float *st, const float *l, long rows, long k, float *work), (st, l, rows, k, work)) \
	X(void, aigc_xent_grad, (float *dl, const float *l, const float *st, const float *g, long rows, long k),     \
	  (dl, l, st, g, rows, k))                                                                                   \
	X(void, aigc_gelu, (float *y, const float *x, long n), (y, x, n))                                            \
	X(void, aigc_gelu_grad, (float *dx, const float *x, const float *dy, long n), (dx, x, dy, n))                \
	X(void, aigc_ln_stats, (float *st, const float *x, long rows, long d, float eps), (st, x, rows, d, eps))     \
	X(void, aigc_ln_fwd,                                                                                         \
	  (float *y, const float *x, const float *gamma, const float *beta, const float *st, long rows, long d),     \
	  (y, x, gamma, beta, st, rows, d))                                                                          \
	X(void, aigc_ln_grad_x,                                                                                      \
	  (float *dx, const float *x, const float *gamma, const float *st, const float *dy, long rows, long d),      \
	  (dx, x, gamma, st, dy, rows, d))                                                                           \
	X(void, aigc_ln_grad_gamma, (float *dg, const float *x, const float *st, const float *dy, long rows, long d), \
	  (dg, x, st, dy, rows, d))                                                                                  \
	X(void, aigc_softmax_rows, (float *s, long rows, long cols, int causal, long diag, const float *mask),       \
	  (s, rows, cols, causal, diag, mask))                                                                       \
	X(void, aigc_softmax_grad_rows, (float *out, const float *p, const float *dp, long rows, long cols),         \
	  (out, p, dp, rows, cols))                                                                                  \
	X(void, aigc_lstm_fwd, (float *tape, const float *gates, const float *cprev, long ldc, long rows, long h),   \
	  (tape, gates, cprev, ldc, rows, h))                                                                        \
	X(void, aigc_lstm_bwd,                                                                                       \
	  (float *da, const float *dhnext, float *dcnext, const float *tape, const float *dtape, const float *cprev, \
	   long ldc, long rows, long h),                                                                             \
	  (da, dhnext, dcnext, tape, dtape, cprev, ldc, rows, h))                                                    \
	X(void, aigc_adam,                                                                                           \
	  (float *w, const float *g, float *m, float *v, float *avg, long n, float scale, float shrink, float b1,    \
	   float b2, float step, float invbc2, float eps, float rate),                                               \
	  (w, g, m, v, avg, n, scale, shrink, b1, b2, step, invbc2, eps, rate))                                      \
	X(void, aigc_ema, (float *avg, const float *w, long n, float d), (avg, w, n, d))                             \
	X(double, aigc_sumsq, (const float *x, long n), (x, n))

#define AIGC_DECLARE(ret, name, params, args) ret name params;
AIGC_KERNELS(AIGC_DECLARE)

// aigc_simd_level is the instruction set in use: 2 AVX-512, 1 AVX2 with FMA, 0 SSE2.
int aigc_simd_level(void);
// aigc_simd_use sets it (no higher than the processor supports) and returns the result.
int aigc_simd_use(int level);

#endif
