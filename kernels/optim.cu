// optim.cu: the optimiser's passes over parameters: the squared global norm of the
// gradients, Adam(W) with clipping and a moving average, the moving average alone, swaps.
#include "common.cuh"

#define NORM_BLOCKS 32

// sum_squares_part: block b of NORM_BLOCKS adds its share of Σx² into part[b] (double).
extern "C" __global__ void sum_squares_part(double* part, const float* x, i64 n) {
  __shared__ double buf[32];
  double s = 0;
  for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)blockDim.x * gridDim.x) {
    double v = x[i];
    s += v * v;
  }
  s = block_sum(s, buf);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}
EXPORT(sum_squares_part);

// sum_parts: out[0] = Σ part[0:n], in order.
extern "C" __global__ void sum_parts(float* out, const double* part, i64 n) {
  if (threadIdx.x == 0 && blockIdx.x == 0) {
    double s = 0;
    for (i64 i = 0; i < n; i++) s += part[i];
    out[0] = (float)s;
  }
}
EXPORT(sum_parts);

// adam: one fused pass over a parameter. With normsq, the gradient is scaled to the
// global norm's limit clip (nothing changes when the norm is not finite); shrink is
// weight decay's factor; with avg, the moving average follows at rate.
extern "C" __global__ void adam(float* w, const float* g, float* m, float* v, float* avg, const float* normsq,
                                float clip, float shrink, float b1, float b2, float step, float inv_bc2, float eps,
                                float rate, i64 n) {
  float scale = 1;
  if (normsq != 0) {
    double norm = sqrt((double)normsq[0]);
    if (isnan(norm) || isinf(norm)) return;
    if (clip > 0 && norm > clip) scale = (float)(clip / (norm + 1e-6));
  }
  FOR_N(j, n) {
    float gj = g[j] * scale, wj = w[j] * shrink;
    float mj = b1 * m[j] + (1 - b1) * gj;
    float vj = b2 * v[j] + (1 - b2) * gj * gj;
    m[j] = mj;
    v[j] = vj;
    wj -= step * mj / (sqrtf(vj) * inv_bc2 + eps);
    w[j] = wj;
    if (avg != 0) avg[j] = rate * avg[j] + (1 - rate) * wj;
  }
}
EXPORT(adam);

extern "C" __global__ void ema(const float* w, float* avg, float rate, i64 n) {
  FOR_N(j, n) avg[j] = rate * avg[j] + (1 - rate) * w[j];
}
EXPORT(ema);

extern "C" __global__ void swap(float* a, float* b, i64 n) {
  FOR_N(j, n) {
    float t = a[j];
    a[j] = b[j];
    b[j] = t;
  }
}
EXPORT(swap);
