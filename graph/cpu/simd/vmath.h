// Branch-free float32 elementary functions that GCC vectorises inside loops: each is a
// range reduction, a polynomial and bit manipulation, with comparisons that become
// blends. Accuracy (measured against float64, simd_test.go): exp, sigmoid, tanh and
// log1p of e^−|x| within 2-3 ulp; Φ and φ for GELU within 4e-7 relative.
#ifndef AIGC_VMATH_H
#define AIGC_VMATH_H

#include <stdint.h>
#include <string.h>

// VM_FMA is a·b + c, fused where the instruction set has it (elsewhere fmaf would be a
// library call, and the loop would not vectorise).
#ifdef __FMA__
#define VM_FMA(a, b, c) __builtin_fmaf(a, b, c)
#else
#define VM_FMA(a, b, c) ((a) * (b) + (c))
#endif

// vm_sel is c ? a : b by bit masks. With a plain ?:, GCC moves the arithmetic of an arm
// into a branch and, under the default -ftrapping-math, cannot turn the branch back into
// a blend without AVX-512's masking: the loop stays scalar on AVX2 and SSE2.
static inline float vm_sel(int c, float a, float b);

static inline float vm_bits(uint32_t u) {
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline uint32_t vm_ubits(float f) {
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static inline float vm_sel(int c, float a, float b) {
	uint32_t m = -(uint32_t)(c != 0);
	return vm_bits((vm_ubits(a) & m) | (vm_ubits(b) & ~m));
}

// vm_exp is e^x: x = k·ln2 + r with |r| ≤ ln2/2, e^r by Cephes' expf polynomial, 2^k in
// the exponent bits. 0 below −87.3 (no subnormals), +Inf above ln(FLT_MAX), NaN for NaN.
static inline float vm_exp(float x) {
	float xc = vm_sel(x < -87.33654f, -87.33654f, x);
	xc = vm_sel(xc > 88.72283f, 88.72283f, xc);
	// k = round(x/ln2): adding and subtracting 1.5·2^23 rounds to an integer (the
	// compiler keeps the pair: no -ffast-math), and vectorises where rintf would not.
	float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = VM_FMA(k, -0.693359375f, xc);
	r = VM_FMA(k, 2.12194440e-4f, r);
	float p = 1.9875691500e-4f;
	p = VM_FMA(p, r, 1.3981999507e-3f);
	p = VM_FMA(p, r, 8.3334519073e-3f);
	p = VM_FMA(p, r, 4.1665795894e-2f);
	p = VM_FMA(p, r, 1.6666665459e-1f);
	p = VM_FMA(p, r, 5.0000001201e-1f);
	float y = VM_FMA(p, r * r, r) + 1.0f;
	// y·2^k, in two factors at the top, where k = 128 for x just below ln(FLT_MAX).
	int32_t ki = (int32_t)k;
	int32_t k1 = ki > 127 ? 127 : ki;
	float twice = vm_sel(ki > 127, 2.0f, 1.0f);
	y = y * vm_bits((uint32_t)(k1 + 127) << 23) * twice;
	y = vm_sel(x < -87.33654f, 0.0f, y);
	y = vm_sel(x > 88.72283f, __builtin_inff(), y);
	return vm_sel(x != x, x, y);
}

// vm_log is log x for finite x > 0 (the callers' only arguments): x = 2^e·m with m in
// [√½, √2), log m = f − f²/2 + f³·P(f) with f = m − 1 (Cephes' logf).
static inline float vm_log(float x) {
	uint32_t u = vm_ubits(x);
	int32_t e = (int32_t)((u >> 23) & 0xff) - 126;
	float m = vm_bits((u & 0x007fffffu) | 0x3f000000u); // in [0.5, 1)
	int small = m < 0.707106781186547524f;
	e = small ? e - 1 : e; // integer: no trap, no branch
	m = vm_sel(small, m + m, m);
	float f = m - 1.0f;
	float z = f * f;
	float p = 7.0376836292e-2f;
	p = VM_FMA(p, f, -1.1514610310e-1f);
	p = VM_FMA(p, f, 1.1676998740e-1f);
	p = VM_FMA(p, f, -1.2420140846e-1f);
	p = VM_FMA(p, f, 1.4249322787e-1f);
	p = VM_FMA(p, f, -1.6668057665e-1f);
	p = VM_FMA(p, f, 2.0000714765e-1f);
	p = VM_FMA(p, f, -2.4999993993e-1f);
	p = VM_FMA(p, f, 3.3333331174e-1f);
	float y = f * z * p;
	float fe = (float)e;
	y = VM_FMA(fe, -2.12194440e-4f, y);
	y = VM_FMA(z, -0.5f, y);
	y = f + y;
	return VM_FMA(fe, 0.693359375f, y);
}

// vm_log1p is log(1+u) for u ≥ 0, accurate for small u too: with w = 1+u rounded,
// log w − ((w−1)−u)/w corrects the rounding of w (Goldberg). Where w rounds to 1, log w
// is exactly 0 and the correction gives u.
static inline float vm_log1p(float u) {
	float w = 1.0f + u;
	float c = ((w - 1.0f) - u) / w;
	return vm_log(w) - c;
}

// vm_sigmoid is 1/(1+e^−x), from e^−|x| so that it never overflows.
static inline float vm_sigmoid(float x) {
	float e = vm_exp(-__builtin_fabsf(x));
	float s = 1.0f / (1.0f + e);
	return vm_sel(x >= 0.0f, s, e * s);
}

// vm_tanh is tanh x: Cephes' odd polynomial below |x| = 0.625, where 1 − e^−2|x| would
// cancel, else (1 − e^−2|x|)/(1 + e^−2|x|) with x's sign.
static inline float vm_tanh(float x) {
	float a = __builtin_fabsf(x);
	float e = vm_exp(-2.0f * a);
	float big = (1.0f - e) / (1.0f + e);
	big = __builtin_copysignf(big, x);
	float z = x * x;
	float p = -5.70498872745e-3f;
	p = VM_FMA(p, z, 2.06390887954e-2f);
	p = VM_FMA(p, z, -5.37397155531e-2f);
	p = VM_FMA(p, z, 1.33314422036e-1f);
	p = VM_FMA(p, z, -3.33332819422e-1f);
	float small = VM_FMA(p * z, x, x);
	return vm_sel(a < 0.625f, small, big);
}

// vm_normal returns Φ(x) and φ(x) of the standard normal distribution: Φ(x) =
// ½·erfc(−x/√2) by the Chebyshev fit of Numerical Recipes' erfcc (relative error below
// 1.2e-7 in erfc, so Φ is accurate in its small left tail too), φ(x) = e^−x²/2/√(2π).
// x² is split exactly into a float and its rounding error (an FMA), so e^−x²/2 does not
// inherit the rounding of x² (relative 1e-5 at |x| = 13 otherwise).
static inline void vm_normal(float x, float *cdf, float *pdf) {
	float x2 = x * x;
	float x2lo = VM_FMA(x, x, -x2);
	float g = vm_exp(-0.5f * x2) * VM_FMA(-0.5f, x2lo, 1.0f); // e^−x²/2
	float z = __builtin_fabsf(x) * 0.70710678118654752f;
	float u = 1.0f / VM_FMA(0.5f, z, 1.0f);
	float p = 0.17087277f;
	p = VM_FMA(p, u, -0.82215223f);
	p = VM_FMA(p, u, 1.48851587f);
	p = VM_FMA(p, u, -1.13520398f);
	p = VM_FMA(p, u, 0.27886807f);
	p = VM_FMA(p, u, -0.18628806f);
	p = VM_FMA(p, u, 0.09678418f);
	p = VM_FMA(p, u, 0.37409196f);
	p = VM_FMA(p, u, 1.00002368f);
	p = VM_FMA(p, u, -1.26551223f);
	float tail = 0.5f * u * g * vm_exp(p); // ½·erfc(|x|/√2): Φ(−|x|)
	*cdf = vm_sel(x != x, x, vm_sel(x <= 0.0f, tail, 1.0f - tail));
	*pdf = 0.39894228040143268f * g;
}

// vm_sqrt_n is out[i] = √in[i] for in ≥ 0, with the instruction set's vector square root:
// a plain sqrtf keeps the loop scalar, since it must set errno on negative input and
// cgo does not pass -fno-math-errno.
#if defined(__AVX512F__)
#include <immintrin.h>
static inline void vm_sqrt_n(float *out, const float *in, long n) {
	long i = 0;
	for (; i + 16 <= n; i += 16) {
		_mm512_storeu_ps(out + i, _mm512_sqrt_ps(_mm512_loadu_ps(in + i)));
	}
	for (; i < n; i++) {
		out[i] = _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(in[i])));
	}
}
#elif defined(__AVX__)
#include <immintrin.h>
static inline void vm_sqrt_n(float *out, const float *in, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		_mm256_storeu_ps(out + i, _mm256_sqrt_ps(_mm256_loadu_ps(in + i)));
	}
	for (; i < n; i++) {
		out[i] = _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(in[i])));
	}
}
#elif defined(__SSE__)
#include <immintrin.h>
static inline void vm_sqrt_n(float *out, const float *in, long n) {
	long i = 0;
	for (; i + 4 <= n; i += 4) {
		_mm_storeu_ps(out + i, _mm_sqrt_ps(_mm_loadu_ps(in + i)));
	}
	for (; i < n; i++) {
		out[i] = _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(in[i])));
	}
}
#else
static inline void vm_sqrt_n(float *out, const float *in, long n) {
	for (long i = 0; i < n; i++) {
		out[i] = __builtin_sqrtf(in[i]);
	}
}
#endif

#endif
