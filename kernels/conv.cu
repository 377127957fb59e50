// conv.cu: convolutions as products of patch matrices (im2col, col2im; the products are
// cuBLAS calls), the channel-major permutations between, and max pooling.
#include "common.cuh"

// The geometry of a convolution: input images [N, C, H, W], square kernels K, outputs
// Ho × Wo; the patch matrix is [C·K·K, N·Ho·Wo].
struct Geom {
  i64 n, c, h, w, k, stride, pad, ho, wo;
};

// im2col: cols[(c, i, j), (n, p, q)] = x[n, c, p·s − pad + i, q·s − pad + j], 0 outside.
extern "C" __global__ void im2col(float* cols, const float* x, i64 n, i64 c, i64 h, i64 w, i64 k, i64 stride, i64 pad,
                                  i64 ho, i64 wo) {
  i64 l = ho * wo, ld = n * l;
  FOR_N(e, c * k * k * ld) {
    i64 row = e / ld, col = e % ld;
    i64 ch = row / (k * k), i = row / k % k, j = row % k;
    i64 img = col / l, p = col % l / wo, q = col % wo;
    i64 y = p * stride - pad + i, xx = q * stride - pad + j;
    cols[e] = (y >= 0 && y < h && xx >= 0 && xx < w) ? x[((img * c + ch) * h + y) * w + xx] : 0.0f;
  }
}
EXPORT(im2col);

// col2im is im2col's adjoint: each image element gathers the patch entries that read it.
extern "C" __global__ void col2im(float* x, const float* cols, i64 n, i64 c, i64 h, i64 w, i64 k, i64 stride, i64 pad,
                                  i64 ho, i64 wo) {
  i64 l = ho * wo, ld = n * l;
  FOR_N(e, n * c * h * w) {
    i64 xx = e % w, y = e / w % h, ch = e / (h * w) % c, img = e / (c * h * w);
    float s = 0;
    for (i64 i = 0; i < k; i++) {
      i64 py = y + pad - i;
      if (py < 0 || py % stride != 0 || py / stride >= ho) continue;
      for (i64 j = 0; j < k; j++) {
        i64 qx = xx + pad - j;
        if (qx < 0 || qx % stride != 0 || qx / stride >= wo) continue;
        s += cols[((ch * k + i) * k + j) * ld + img * l + py / stride * wo + qx / stride];
      }
    }
    x[e] = s;
  }
}
EXPORT(col2im);

// channel_major: t [C, N·L] from x [N, C, L] (to = 1), or back (to = 0).
extern "C" __global__ void channel_major(float* dst, const float* src, i64 n, i64 c, i64 l, int to) {
  FOR_N(e, n * c * l) {
    i64 img = e / (c * l), ch = e / l % c, p = e % l;
    i64 t = (ch * n + img) * l + p;
    if (to)
      dst[t] = src[e];
    else
      dst[e] = src[t];
  }
}
EXPORT(channel_major);

// maxpool: the maximum of each K×K window (NaN wins, as on the CPU); with dy, the
// window's gradient added at its maximum into dx (zeroed before).
extern "C" __global__ void maxpool(float* y, const float* x, const float* dy, i64 planes, i64 h, i64 w, i64 k,
                                   i64 s, i64 oh, i64 ow) {
  FOR_N(e, planes * oh * ow) {
    i64 q = e / (oh * ow), i = e / ow % oh, j = e % ow;
    const float* xp = x + q * h * w;
    i64 best = i * s * w + j * s;
    float m = -INFINITY;
    for (i64 r = i * s; r < i * s + k; r++)
      for (i64 cc = j * s; cc < j * s + k; cc++) {
        float v = xp[r * w + cc];
        if (v > m || v != v) {
          m = v;
          best = r * w + cc;
        }
      }
    if (dy == 0)
      y[e] = m;
    else
      atomicAdd(&y[q * h * w + best], dy[e]);
  }
}
EXPORT(maxpool);
