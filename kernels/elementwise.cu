// elementwise.cu: element-wise ops and their fused chains, reductions over axes, the
// broadcasts of biases and sums, softmax, and the strided copies of Join and Block.
#include "common.cuh"

// The element functions of exec.Map, by exec.MapFn's value.
#define FN_RELU 0
#define FN_LEAKY 1
#define FN_TANH 2
#define FN_SIGMOID 3
#define FN_EXP 4
#define FN_SQUARE 5

__device__ __forceinline__ float map_fn(int fn, float alpha, float x) {
  switch (fn) {
    case FN_RELU: return fmaxf(x, 0.0f);
    case FN_LEAKY: return x > 0 ? x : alpha * x;
    case FN_TANH: return tanhf(x);
    case FN_SIGMOID: return sigmoidf_(x);
    case FN_EXP: return expf(x);
    default: return x * x;
  }
}

// map_deriv is fn' from y = fn(x) (from x for square).
__device__ __forceinline__ float map_deriv(int fn, float alpha, float y) {
  switch (fn) {
    case FN_RELU: return y > 0 ? 1.0f : 0.0f;
    case FN_LEAKY: return y > 0 ? 1.0f : alpha;
    case FN_TANH: return 1.0f - y * y;
    case FN_SIGMOID: return y * (1.0f - y);
    case FN_EXP: return y;
    default: return 2.0f * y;
  }
}

__device__ __forceinline__ float gelu_fn(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float gelu_deriv(float x) {
  float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
  return cdf + x * expf(-0.5f * x * x) * 0.39894228040143268f;
}

extern "C" __global__ void ew_add(float* y, const float* a, const float* b, i64 n) {
  FOR_N(i, n) y[i] = a[i] + b[i];
}
EXPORT(ew_add);

extern "C" __global__ void ew_sub(float* y, const float* a, const float* b, i64 n) {
  FOR_N(i, n) y[i] = a[i] - b[i];
}
EXPORT(ew_sub);

extern "C" __global__ void ew_mul(float* y, const float* a, const float* b, i64 n) {
  FOR_N(i, n) y[i] = a[i] * b[i];
}
EXPORT(ew_mul);

extern "C" __global__ void ew_affine(float* y, const float* x, float scale, float shift, i64 n) {
  FOR_N(i, n) y[i] = scale * x[i] + shift;
}
EXPORT(ew_affine);

extern "C" __global__ void ew_map(float* y, const float* x, int fn, float alpha, i64 n) {
  FOR_N(i, n) y[i] = map_fn(fn, alpha, x[i]);
}
EXPORT(ew_map);

extern "C" __global__ void ew_map_grad(float* dx, const float* y, const float* dy, int fn, float alpha, i64 n) {
  FOR_N(i, n) dx[i] = dy[i] * map_deriv(fn, alpha, y[i]);
}
EXPORT(ew_map_grad);

extern "C" __global__ void ew_gelu(float* y, const float* x, i64 n) {
  FOR_N(i, n) y[i] = gelu_fn(x[i]);
}
EXPORT(ew_gelu);

extern "C" __global__ void ew_gelu_grad(float* dx, const float* x, const float* dy, i64 n) {
  FOR_N(i, n) dx[i] = dy[i] * gelu_deriv(x[i]);
}
EXPORT(ew_gelu_grad);

// A fused chain (exec.Fused) is interpreted per element: each step's code packs its op
// (bits 0-7), its arguments' indices (8-15, 16-23: the inputs, then the steps' results)
// and a map function (24-31); its params pack two floats (a scale or slope, a shift).
#define FUSED_MAX_IN 8
#define FUSED_MAX_STEPS 16
#define STEP_ADD 0
#define STEP_SUB 1
#define STEP_MUL 2
#define STEP_AFFINE 3
#define STEP_MAP 4
#define STEP_MAP_GRAD 5
#define STEP_GELU 6
#define STEP_GELU_GRAD 7

struct FusedArgs {
  const float* in[FUSED_MAX_IN];
  unsigned code[FUSED_MAX_STEPS];
  float p0[FUSED_MAX_STEPS], p1[FUSED_MAX_STEPS];
};

// ew_fused's program lives in device memory (prog: FusedArgs), written once when the
// instruction is prepared.
extern "C" __global__ void ew_fused(float* y, const FusedArgs* prog, int nin, int nsteps, i64 n) {
  FOR_N(i, n) {
    float r[FUSED_MAX_IN + FUSED_MAX_STEPS];
    for (int k = 0; k < nin; k++) r[k] = prog->in[k][i];
    for (int s = 0; s < nsteps; s++) {
      unsigned c = prog->code[s];
      float a = r[(c >> 8) & 255], b = r[(c >> 16) & 255], v;
      switch (c & 255) {
        case STEP_ADD: v = a + b; break;
        case STEP_SUB: v = a - b; break;
        case STEP_MUL: v = a * b; break;
        case STEP_AFFINE: v = prog->p0[s] * a + prog->p1[s]; break;
        case STEP_MAP: v = map_fn(c >> 24, prog->p0[s], a); break;
        case STEP_MAP_GRAD: v = b * map_deriv(c >> 24, prog->p0[s], a); break;
        case STEP_GELU: v = gelu_fn(a); break;
        default: v = b * gelu_deriv(a); break;
      }
      r[nin + s] = v;
    }
    y[i] = r[nin + nsteps - 1];
  }
}
EXPORT(ew_fused);

// add_bias is y = x + b[(i / inner) % c].
extern "C" __global__ void add_bias(float* y, const float* x, const float* b, i64 c, i64 inner, i64 n) {
  FOR_N(i, n) y[i] = x[i] + b[(i / inner) % c];
}
EXPORT(add_bias);

// bias_grad sums dy [outer, c, inner] over outer and inner: one block per channel.
extern "C" __global__ void bias_grad(float* db, const float* dy, i64 outer, i64 c, i64 inner) {
  __shared__ float buf[32];
  i64 ch = blockIdx.x, m = outer * inner;
  float s = 0;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) s += dy[(j / inner * c + ch) * inner + j % inner];
  s = block_sum(s, buf);
  if (threadIdx.x == 0) db[ch] = s;
}
EXPORT(bias_grad);

// Sums over axes. The input's axes are split into kept ones (the output's, outermost
// first) and reduced ones; each is given as up to 4 (size, input stride) pairs, size 1
// for the unused. One block per output element, in double.
struct Axes4 {
  i64 n0, n1, n2, n3, s0, s1, s2, s3;
};
__device__ __forceinline__ i64 offset4(i64 i, i64 n1, i64 n2, i64 n3, i64 s0, i64 s1, i64 s2, i64 s3) {
  i64 i3 = i % n3;
  i /= n3;
  i64 i2 = i % n2;
  i /= n2;
  i64 i1 = i % n1;
  return i / n1 * s0 + i1 * s1 + i2 * s2 + i3 * s3;
}

extern "C" __global__ void sum_axes(float* y, const float* x, i64 k1, i64 k2, i64 k3, i64 ks0, i64 ks1, i64 ks2,
                                    i64 ks3, i64 r0, i64 r1, i64 r2, i64 r3, i64 rs0, i64 rs1, i64 rs2, i64 rs3) {
  __shared__ double buf[32];
  i64 base = offset4(blockIdx.x, k1, k2, k3, ks0, ks1, ks2, ks3), m = r0 * r1 * r2 * r3;
  double s = 0;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) s += x[base + offset4(j, r1, r2, r3, rs0, rs1, rs2, rs3)];
  s = block_sum(s, buf);
  if (threadIdx.x == 0) y[blockIdx.x] = (float)s;
}
EXPORT(sum_axes);

// sum_grad broadcasts dy back over the summed axes: dx[i] = dy[o(i)], with i's output
// index o from up to 6 (size, output stride) pairs of dx's axes (stride 0: summed).
extern "C" __global__ void sum_grad(float* dx, const float* dy, i64 n1, i64 n2, i64 n3, i64 n4, i64 n5, i64 s0,
                                    i64 s1, i64 s2, i64 s3, i64 s4, i64 s5, i64 n) {
  FOR_N(i, n) {
    i64 r = i, o = 0;
    o += r % n5 * s5;
    r /= n5;
    o += r % n4 * s4;
    r /= n4;
    o += r % n3 * s3;
    r /= n3;
    o += r % n2 * s2;
    r /= n2;
    o += r % n1 * s1;
    r /= n1;
    o += r * s0;
    dx[i] = dy[o];
  }
}
EXPORT(sum_grad);

// softmax_rows: one block per row of [rows, k].
extern "C" __global__ void softmax_rows(float* y, const float* x, i64 k) {
  __shared__ float buf[32];
  const float* xr = x + blockIdx.x * k;
  float* yr = y + blockIdx.x * k;
  float m = -INFINITY;
  for (i64 j = threadIdx.x; j < k; j += blockDim.x) m = fmaxf(m, xr[j]);
  m = block_max(m, buf);
  float s = 0;
  for (i64 j = threadIdx.x; j < k; j += blockDim.x) s += expf(xr[j] - m);
  s = block_sum(s, buf);
  for (i64 j = threadIdx.x; j < k; j += blockDim.x) yr[j] = expf(xr[j] - m) / s;
}
EXPORT(softmax_rows);

// softmax_grad_rows is dx = y ⊙ (dy − Σ dy⊙y) per row.
extern "C" __global__ void softmax_grad_rows(float* dx, const float* y, const float* dy, i64 k) {
  __shared__ float buf[32];
  i64 off = blockIdx.x * k;
  float d = 0;
  for (i64 j = threadIdx.x; j < k; j += blockDim.x) d += y[off + j] * dy[off + j];
  d = block_sum(d, buf);
  for (i64 j = threadIdx.x; j < k; j += blockDim.x) dx[off + j] = y[off + j] * (dy[off + j] - d);
}
EXPORT(softmax_grad_rows);

// copy2d copies rows × cols from x (row stride xs) to y (row stride ys).
extern "C" __global__ void copy2d(float* y, i64 ys, const float* x, i64 xs, i64 rows, i64 cols) {
  FOR_N(i, rows * cols) {
    i64 r = i / cols, c = i % cols;
    y[r * ys + c] = x[r * xs + c];
  }
}
EXPORT(copy2d);

extern "C" __global__ void fill(float* y, float v, i64 n) {
  FOR_N(i, n) y[i] = v;
}
EXPORT(fill);

// dropout: y = x·scale where dropout_bits(seed, i) ≥ thr, else 0 (exec.Dropout: the
// same bits as exec.DropoutBits on the CPU).
__device__ __forceinline__ unsigned dropout_bits(unsigned long long seed, i64 i) {
  unsigned long long z = seed + (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (unsigned)((z ^ (z >> 31)) >> 32);
}

extern "C" __global__ void dropout(float* y, const float* x, unsigned long long seed, unsigned long long thr,
                                   float scale, i64 n) {
  FOR_N(i, n) y[i] = dropout_bits(seed, i) >= thr ? x[i] * scale : 0.0f;
}
EXPORT(dropout);
