// norm.cu: layer normalisation (one block per row) and batch normalisation (one block
// per channel for the statistics and sums).
#include "common.cuh"

extern "C" __global__ void ln_stats(float* st, const float* x, i64 d, float eps) {
  __shared__ double buf[32];
  const float* row = x + blockIdx.x * d;
  double s = 0;
  for (i64 j = threadIdx.x; j < d; j += blockDim.x) s += row[j];
  double mean = block_sum(s, buf) / d;
  double q = 0;
  for (i64 j = threadIdx.x; j < d; j += blockDim.x) q += (row[j] - mean) * (row[j] - mean);
  q = block_sum(q, buf);
  if (threadIdx.x == 0) {
    st[2 * blockIdx.x] = (float)mean;
    st[2 * blockIdx.x + 1] = (float)(1.0 / sqrt(q / d + eps));
  }
}
EXPORT(ln_stats);

extern "C" __global__ void ln_forward(float* y, const float* x, const float* gamma, const float* beta, const float* st,
                                      i64 d, i64 n) {
  FOR_N(i, n) {
    i64 r = i / d, j = i % d;
    y[i] = (x[i] - st[2 * r]) * st[2 * r + 1] * gamma[j] + beta[j];
  }
}
EXPORT(ln_forward);

// ln_grad_x: one block per row.
extern "C" __global__ void ln_grad_x(float* dx, const float* x, const float* gamma, const float* st, const float* dy,
                                     i64 d) {
  __shared__ float buf[32];
  i64 off = blockIdx.x * d;
  float mean = st[2 * blockIdx.x], rstd = st[2 * blockIdx.x + 1];
  float sg = 0, sgx = 0;
  for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
    float g = dy[off + j] * gamma[j];
    sg += g;
    sgx += g * (x[off + j] - mean) * rstd;
  }
  sg = block_sum(sg, buf) / d;
  sgx = block_sum(sgx, buf) / d;
  for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
    float g = dy[off + j] * gamma[j], xhat = (x[off + j] - mean) * rstd;
    dx[off + j] = (g - sg - xhat * sgx) * rstd;
  }
}
EXPORT(ln_grad_x);

// ln_grad_gamma: Σ_rows dy·x̂ into dg, zeroed before. Blocks of 32 columns × 8 rows
// read coalesced rows; gridDim.y blocks share the rows and add their sums atomically.
extern "C" __global__ void ln_grad_gamma(float* dg, const float* x, const float* st, const float* dy, i64 rows, i64 d) {
  __shared__ float part[8][33];
  i64 j = blockIdx.x * 32 + threadIdx.x % 32;
  int lane = threadIdx.x / 32;
  float s = 0;
  if (j < d)
    for (i64 r = blockIdx.y * 8 + lane; r < rows; r += 8 * gridDim.y)
      s += dy[r * d + j] * (x[r * d + j] - st[2 * r]) * st[2 * r + 1];
  part[lane][threadIdx.x % 32] = s;
  __syncthreads();
  if (lane == 0 && j < d) {
    for (int k = 1; k < 8; k++) s += part[k][threadIdx.x % 32];
    atomicAdd(&dg[j], s);
  }
}
EXPORT(ln_grad_gamma);

// col_sums: Σ_rows x [rows, cols] into out, zeroed before, as ln_grad_gamma (a bias's
// gradient).
extern "C" __global__ void col_sums(float* out, const float* x, i64 rows, i64 cols) {
  __shared__ float part[8][33];
  i64 j = blockIdx.x * 32 + threadIdx.x % 32;
  int lane = threadIdx.x / 32;
  float s = 0;
  if (j < cols)
    for (i64 r = blockIdx.y * 8 + lane; r < rows; r += 8 * gridDim.y) s += x[r * cols + j];
  part[lane][threadIdx.x % 32] = s;
  __syncthreads();
  if (lane == 0 && j < cols) {
    for (int k = 1; k < 8; k++) s += part[k][threadIdx.x % 32];
    atomicAdd(&out[j], s);
  }
}
EXPORT(col_sums);

// bn_stats: per channel of x [n, c, inner], the batch mean and 1/√(var+eps) into st [2, c],
// and the running statistics updated as PyTorch's train-mode forward does.
extern "C" __global__ void bn_stats(float* st, const float* x, float* rm, float* rv, i64 n, i64 c, i64 inner,
                                    double momentum, double eps) {
  __shared__ double buf[32];
  i64 ch = blockIdx.x, m = n * inner;
  double s = 0;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) s += x[(j / inner * c + ch) * inner + j % inner];
  double mean = block_sum(s, buf) / m;
  double q = 0;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
    double v = x[(j / inner * c + ch) * inner + j % inner] - mean;
    q += v * v;
  }
  q = block_sum(q, buf);
  if (threadIdx.x == 0) {
    st[ch] = (float)mean;
    st[c + ch] = (float)(1.0 / sqrt(q / m + eps));
    rm[ch] = (float)((1 - momentum) * rm[ch] + momentum * mean);
    rv[ch] = (float)((1 - momentum) * rv[ch] + momentum * q / (m - 1));
  }
}
EXPORT(bn_stats);

extern "C" __global__ void increment(float* x) {
  if (threadIdx.x == 0 && blockIdx.x == 0) x[0] += 1;
}
EXPORT(increment);

extern "C" __global__ void bn_eval_stats(float* st, const float* rm, const float* rv, i64 c, double eps) {
  FOR_N(ch, c) {
    st[ch] = rm[ch];
    st[c + ch] = (float)(1.0 / sqrt((double)rv[ch] + eps));
  }
}
EXPORT(bn_eval_stats);

extern "C" __global__ void bn_forward(float* y, const float* x, const float* st, const float* w, const float* b, i64 c,
                                      i64 inner, i64 n) {
  FOR_N(i, n) {
    i64 ch = i / inner % c;
    y[i] = (x[i] - st[ch]) * (st[c + ch] * w[ch]) + b[ch];
  }
}
EXPORT(bn_forward);

// bn_sums: per channel [Σdy; Σdy·x̂].
extern "C" __global__ void bn_sums(float* sums, const float* x, const float* st, const float* dy, i64 n, i64 c,
                                   i64 inner) {
  __shared__ double buf[32];
  i64 ch = blockIdx.x, m = n * inner;
  double mean = st[ch], a = 0, b = 0;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
    i64 i = (j / inner * c + ch) * inner + j % inner;
    a += dy[i];
    b += dy[i] * (x[i] - mean);
  }
  a = block_sum(a, buf);
  b = block_sum(b, buf);
  if (threadIdx.x == 0) {
    sums[ch] = (float)a;
    sums[c + ch] = (float)(b * st[c + ch]);
  }
}
EXPORT(bn_sums);

// bn_input_grad: dx = k·dy (eval), or through the batch statistics with sums (training).
extern "C" __global__ void bn_input_grad(float* dx, const float* x, const float* st, const float* w, const float* dy,
                                         const float* sums, i64 c, i64 inner, i64 n) {
  double m = (double)(n / c);
  FOR_N(i, n) {
    i64 ch = i / inner % c;
    float k = w[ch] * st[c + ch];
    if (sums == 0) {
      dx[i] = k * dy[i];
      continue;
    }
    float shift = (float)(k * (double)sums[ch] / m);
    float slope = (float)(k * (double)st[c + ch] * (double)sums[c + ch] / m);
    dx[i] = k * dy[i] - shift - slope * (x[i] - st[ch]);
  }
}
EXPORT(bn_input_grad);
