// recurrent.cu: the pointwise parts of the LSTM and Elman layers. The recurrent products
// between steps are cuBLAS calls made by the device (graph/cuda/recurrent.go).
#include "common.cuh"

__device__ __forceinline__ float dsig(float y) { return y * (1.0f - y); }

// lstm_cell is one of the per-step cell functions (exec.LSTMCellFn, in order) over gates
// a [B, 4H] and states [B, H] (x1, x2: the second and third inputs).
extern "C" __global__ void lstm_cell(float* y, const float* a, const float* x1, const float* x2, int fn, i64 h,
                                     i64 rows) {
  FOR_N(q, rows * h) {
    i64 r = q / h, j = q % h;
    const float* ar = a + r * 4 * h;
    float ai = ar[j], af = ar[h + j], ag = ar[2 * h + j], ao = ar[3 * h + j];
    float* yr = y + r * 4 * h;
    switch (fn) {
      case 0: y[q] = sigmoidf_(af) * x1[q] + sigmoidf_(ai) * tanhf(ag); break;
      case 1: y[q] = sigmoidf_(ao) * tanhf(x1[q]); break;
      case 2: {
        float i = sigmoidf_(ai), f = sigmoidf_(af), g = tanhf(ag), dc = x2[q], cp = x1[q];
        yr[j] = dc * g * dsig(i);
        yr[h + j] = dc * cp * dsig(f);
        yr[2 * h + j] = dc * i * (1 - g * g);
        yr[3 * h + j] = 0;
        break;
      }
      case 3: y[q] = sigmoidf_(af) * x1[q]; break;
      case 4: {
        float o = sigmoidf_(ao), tc = tanhf(x1[q]);
        yr[j] = yr[h + j] = yr[2 * h + j] = 0;
        yr[3 * h + j] = x2[q] * tc * dsig(o);
        break;
      }
      default: {
        float o = sigmoidf_(ao), tc = tanhf(x1[q]);
        y[q] = x2[q] * o * (1 - tc * tc);
      }
    }
  }
}
EXPORT(lstm_cell);

// lstm_fwd_step: step t's tape rows [B, 6H] (h, c, i, f, g, o) from the input projection
// xw [B, 4H], the recurrent product hw [B, 4H], and the previous cell state (row stride ldc).
extern "C" __global__ void lstm_fwd_step(float* tape, const float* xw, const float* hw, const float* cprev, i64 ldc,
                                         i64 b, i64 h) {
  FOR_N(q, b * h) {
    i64 r = q / h, j = q % h;
    const float *x = xw + r * 4 * h, *hh = hw + r * 4 * h;
    float i = sigmoidf_(x[j] + hh[j]), f = sigmoidf_(x[h + j] + hh[h + j]);
    float g = tanhf(x[2 * h + j] + hh[2 * h + j]), o = sigmoidf_(x[3 * h + j] + hh[3 * h + j]);
    float c = f * cprev[r * ldc + j] + i * g;
    float* row = tape + r * 6 * h;
    row[j] = o * tanhf(c);
    row[h + j] = c;
    row[2 * h + j] = i;
    row[3 * h + j] = f;
    row[4 * h + j] = g;
    row[5 * h + j] = o;
  }
}
EXPORT(lstm_fwd_step);

// lstm_bwd_step: step t's pre-activation gate gradients da [B, 4H] from the tape, the
// tape's gradient, and the gradients flowing back from step t+1 (dh_next, dc_next [B, H]),
// dc_next updated for step t−1.
extern "C" __global__ void lstm_bwd_step(float* da, const float* dhn, float* dcn, const float* tape,
                                         const float* dtape, const float* cprev, i64 ldc, i64 b, i64 h) {
  FOR_N(q, b * h) {
    i64 r = q / h, j = q % h;
    const float *row = tape + r * 6 * h, *drow = dtape + r * 6 * h;
    float c = row[h + j], i = row[2 * h + j], f = row[3 * h + j], g = row[4 * h + j], o = row[5 * h + j];
    float tc = tanhf(c);
    float dh = drow[j] + dhn[q];
    float dc = drow[h + j] + dcn[q] + dh * o * (1 - tc * tc);
    float* d = da + r * 4 * h;
    d[j] = dc * g * dsig(i);
    d[h + j] = dc * cprev[r * ldc + j] * dsig(f);
    d[2 * h + j] = dc * i * (1 - g * g);
    d[3 * h + j] = dh * tc * dsig(o);
    dcn[q] = dc * f;
  }
}
EXPORT(lstm_bwd_step);

// lstm_last packs dh0 | dc0 | 0 into rows of 4H.
extern "C" __global__ void lstm_last(float* last, const float* dh, const float* dc, i64 b, i64 h) {
  FOR_N(q, b * 4 * h) {
    i64 r = q / (4 * h), j = q % (4 * h);
    last[q] = j < h ? dh[r * h + j] : j < 2 * h ? dc[r * h + j - h] : 0.0f;
  }
}
EXPORT(lstm_last);

// transpose: y [cols, rows] = xᵀ for x [rows, cols].
extern "C" __global__ void transpose(float* y, const float* x, i64 rows, i64 cols) {
  FOR_N(q, rows * cols) {
    i64 i = q / rows, j = q % rows;
    y[q] = x[j * cols + i];
  }
}
EXPORT(transpose);

extern "C" __global__ void tanh_inplace(float* x, i64 n) {
  FOR_N(i, n) x[i] = tanhf(x[i]);
}
EXPORT(tanh_inplace);

// tanh_deriv: d *= 1 − y².
extern "C" __global__ void tanh_deriv(float* d, const float* y, i64 n) {
  FOR_N(i, n) d[i] *= 1 - y[i] * y[i];
}
EXPORT(tanh_deriv);
