// losses.cu: binary cross-entropy from logits and softmax cross-entropy, one block per row.
#include "common.cuh"

// bce_rows: out[r] = Σ_row softplus(l) − t·l over rows of k.
extern "C" __global__ void bce_rows(float* out, const float* l, const float* t, i64 k) {
  __shared__ double buf[32];
  i64 off = blockIdx.x * k;
  double s = 0;
  for (i64 j = threadIdx.x; j < k; j += blockDim.x) {
    float x = l[off + j];
    s += (double)softplusf_(x) - (double)t[off + j] * x;
  }
  s = block_sum(s, buf);
  if (threadIdx.x == 0) out[blockIdx.x] = (float)s;
}
EXPORT(bce_rows);

// bce_grad: dl = (σ(l) − t)·g[row].
extern "C" __global__ void bce_grad(float* dl, const float* l, const float* t, const float* g, i64 k, i64 n) {
  FOR_N(i, n) dl[i] = (sigmoidf_(l[i]) - t[i]) * g[i / k];
}
EXPORT(bce_grad);

// xent_stats: each row's maximum and log Σ e^(x−max).
extern "C" __global__ void xent_stats(float* st, const float* l, i64 k) {
  __shared__ float buf[32];
  __shared__ double dbuf[32];
  const float* row = l + blockIdx.x * k;
  float m = -INFINITY;
  for (i64 j = threadIdx.x; j < k; j += blockDim.x) m = fmaxf(m, row[j]);
  m = block_max(m, buf);
  double s = 0;
  for (i64 j = threadIdx.x; j < k; j += blockDim.x) s += expf(row[j] - m);
  s = block_sum(s, dbuf);
  if (threadIdx.x == 0) {
    st[2 * blockIdx.x] = m;
    st[2 * blockIdx.x + 1] = (float)log(s);
  }
}
EXPORT(xent_stats);

// label returns row r's label as an index, or −1 (and sets the status) when it is not an
// integer in [0, k).
__device__ __forceinline__ i64 label(const float* labels, i64 r, i64 k, int* status) {
  float v = labels[r];
  if (!(v >= 0 && v < (float)k && v == truncf(v))) {
    atomicMax(status, STATUS_BAD_LABEL);
    return -1;
  }
  return (i64)v;
}

// xent: out[r] = lse − (l[label] − max).
extern "C" __global__ void xent(float* out, const float* l, const float* labels, const float* st, int* status, i64 k,
                                i64 rows) {
  FOR_N(r, rows) {
    i64 c = label(labels, r, k, status);
    out[r] = c < 0 ? NAN : st[2 * r + 1] - (l[r * k + c] - st[2 * r]);
  }
}
EXPORT(xent);

// xent_grad: dl = (softmax − onehot(label))·g[row].
extern "C" __global__ void xent_grad(float* dl, const float* l, const float* labels, const float* st, const float* g,
                                     int* status, i64 k, i64 n) {
  FOR_N(i, n) {
    i64 r = i / k, j = i % k;
    float p = expf(l[i] - st[2 * r] - st[2 * r + 1]);
    float v = labels[r];
    dl[i] = (p - (v == (float)j ? 1.0f : 0.0f)) * g[r];
    if (j == 0) label(labels, r, k, status);
  }
}
EXPORT(xent_grad);
