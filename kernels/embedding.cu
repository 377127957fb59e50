// embedding.cu: embedding lookups, their gradient, the key/value cache write, and the
// attention softmax.
#include "common.cuh"

// row_index returns id as a row of a table of v rows, or −1 (setting the status).
__device__ __forceinline__ i64 row_index(float id, i64 v, int* status) {
  if (!(id >= 0 && id < (float)v && id == truncf(id))) {
    atomicMax(status, STATUS_BAD_ID);
    return -1;
  }
  return (i64)id;
}

// lookup: y[n] = w[ids[n]], rows of e.
extern "C" __global__ void lookup(float* y, const float* w, const float* ids, int* status, i64 v, i64 e, i64 n) {
  FOR_N(i, n * e) {
    i64 r = row_index(ids[i / e], v, status);
    y[i] = r < 0 ? NAN : w[r * e + i % e];
  }
}
EXPORT(lookup);

// lookup_grad: dw[v] = Σ_{n: ids[n] = v} dy[n], scattered with atomic adds into dw,
// zeroed before (the order of the additions varies, as in PyTorch's embedding backward).
extern "C" __global__ void lookup_grad(float* dw, const float* ids, const float* dy, int* status, i64 v, i64 e,
                                       i64 n) {
  FOR_N(i, n * e) {
    i64 r = row_index(ids[i / e], v, status);
    if (r >= 0) atomicAdd(&dw[r * e + i % e], dy[i]);
  }
}
EXPORT(lookup_grad);

// cache_write: y = cache with row pos[0] replaced by src[off : off+w].
extern "C" __global__ void cache_write(float* y, const float* cache, const float* src, const float* pos, int* status,
                                       i64 rows, i64 w, i64 off) {
  FOR_N(i, rows * w) {
    i64 r = row_index(pos[0], rows, status);
    y[i] = (i / w == r) ? src[off + i % w] : cache[i];
  }
}
EXPORT(cache_write);

// attn_softmax turns each row of scores S [B·heads·Tq, Tk] into probabilities in place:
// causal keeps columns ≤ the row's position, a mask [B, Tk] the columns where it is 1; a
// row with nothing to attend to becomes zeros.
extern "C" __global__ void attn_softmax(float* s, const float* mask, i64 tq, i64 tk, i64 heads, int causal) {
  __shared__ float buf[32];
  i64 row = blockIdx.x, i = row % tq, seq = row / tq / heads;
  float* x = s + row * tk;
  float m = -INFINITY;
  for (i64 j = threadIdx.x; j < tk; j += blockDim.x) {
    bool keep = (!causal || j <= i) && (mask == 0 || mask[seq * tk + j] != 0);
    if (keep) m = fmaxf(m, x[j]);
  }
  m = block_max(m, buf);
  float sum = 0;
  for (i64 j = threadIdx.x; j < tk; j += blockDim.x) {
    bool keep = m != -INFINITY && (!causal || j <= i) && (mask == 0 || mask[seq * tk + j] != 0);
    float e = keep ? expf(x[j] - m) : 0.0f;
    x[j] = e;
    sum += e;
  }
  sum = block_sum(sum, buf);
  for (i64 j = threadIdx.x; j < tk; j += blockDim.x) x[j] = sum > 0 ? x[j] / sum : 0.0f;
}
EXPORT(attn_softmax);

// bias_rows fills c [m, n] with the bias in every row.
extern "C" __global__ void bias_rows(float* c, const float* b, i64 n, i64 total) {
  FOR_N(i, total) c[i] = b[i % n];
}
EXPORT(bias_rows);
