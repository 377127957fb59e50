// common.cuh: what every kernel file shares. The same source compiles with nvcc to PTX and,
// with AIGC_EMU defined, for the host (emu.h) in the tests.
#pragma once
#ifdef AIGC_EMU
#include "emu.h"
#else
#define EXPORT(name) static_assert(true, "")
#define DYNAMIC_SHARED(T, name)                          \
  extern __shared__ __align__(16) unsigned char smem_[]; \
  T* name = (T*)smem_
#endif

// Sizes are 64-bit: a GPU's tensors can pass 2^31 elements.
typedef long long i64;

// The status word: a kernel that meets bad data (a label outside the classes, a token id
// outside the table) stores a code here instead of failing; the host reads it at Sync.
#define STATUS_BAD_LABEL 1
#define STATUS_BAD_ID 2

// A grid-stride loop over n items, so any grid covers any size.
#define FOR_N(i, n) for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// block_sum returns the sum of v over the block's threads (blockDim.x a multiple of 32,
// at most 1024) to every thread; buf holds 32 floats of shared memory. Every thread of
// the block must call it.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
template <class T>
__device__ T block_sum(T v, T* buf) {
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  v = warp_sum(v);
  __syncthreads();  // buf may still be read by a previous call
  if (lane == 0) buf[warp] = v;
  __syncthreads();
  v = lane < warps ? buf[lane] : (T)0;
  return warp_sum(v);
}
template <class T>
__device__ T block_max(T v, T* buf) {
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) buf[warp] = v;
  __syncthreads();
  v = lane < warps ? buf[lane] : -INFINITY;
  return warp_max(v);
}

__device__ __forceinline__ float sigmoidf_(float x) {
  if (x >= 0) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}
__device__ __forceinline__ float softplusf_(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
