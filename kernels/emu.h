// emu.h runs the CUDA C kernels of this directory on the host, for the tests of a machine
// without a GPU (build tag aigc_emu). A launch runs its blocks one after another; a
// block's threads are real threads that meet at a barrier for __syncthreads, so a kernel
// whose threads race, or that forgets a barrier, can fail here as it would on a GPU.
// Static shared memory is a static variable (one block runs at a time); warp shuffles go
// through a block-wide exchange, so every thread of a block must reach them together (as
// every kernel here is written to); atomics are the host's.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
};

extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

namespace emu {
void syncthreads();
void* dynamic_shared();
uint64_t* exchange();  // one slot per thread of the block, for shuffles

// A kernel as the registry holds it: its address and a function that calls it with its
// parameters, each given as the 8 bytes the driver API is handed.
using Invoker = void (*)(void* fn, const uint64_t* args);
struct Entry {
  void* fn;
  Invoker invoke;
  int nargs;
};
std::map<std::string, Entry>& registry();

template <class T>
T from_slot(uint64_t v) {
  if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<T>(v);
  } else if constexpr (std::is_same_v<T, float>) {
    uint32_t b = (uint32_t)v;
    float f;
    memcpy(&f, &b, 4);
    return f;
  } else if constexpr (std::is_same_v<T, double>) {
    double d;
    memcpy(&d, &v, 8);
    return d;
  } else {
    static_assert(std::is_integral_v<T>, "kernel parameters are pointers, integers, float or double");
    return static_cast<T>(static_cast<int64_t>(v));
  }
}

template <class... A>
struct Reg {
  Reg(const char* name, void (*f)(A...)) { registry()[name] = Entry{(void*)f, &invoke, (int)sizeof...(A)}; }
  static void invoke(void* fn, const uint64_t* a) {
    call(reinterpret_cast<void (*)(A...)>(fn), a, std::index_sequence_for<A...>{});
  }
  template <size_t... I>
  static void call(void (*f)(A...), const uint64_t* a, std::index_sequence<I...>) {
    f(from_slot<A>(a[I])...);
  }
};
template <class... A>
Reg(const char*, void (*)(A...)) -> Reg<A...>;

inline unsigned tid() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }

template <class T>
uint64_t to_bits(T v) {
  uint64_t b = 0;
  memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
T from_bits(uint64_t b) {
  T v;
  memcpy(&v, &b, sizeof(T));
  return v;
}

// shuffle exchanges v within groups of width threads: thread t gets the value of the
// thread src(t), or keeps its own when src is out of its group.
template <class T, class F>
T shuffle(T v, int width, F src) {
  unsigned t = tid();
  exchange()[t] = to_bits(v);
  syncthreads();
  int lane = t % width, s = src(lane);
  T r = (s >= 0 && s < width) ? from_bits<T>(exchange()[t - lane + s]) : v;
  syncthreads();
  return r;
}
}  // namespace emu

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define EXPORT(name) static emu::Reg emu_reg_##name(#name, &name)
#define DYNAMIC_SHARED(T, name) T* name = (T*)emu::dynamic_shared()

inline void __syncthreads() { emu::syncthreads(); }
template <class T>
T __shfl_down_sync(unsigned, T v, unsigned d, int w = 32) {
  return emu::shuffle(v, w, [&](int l) { return l + (int)d; });
}
template <class T>
T __shfl_xor_sync(unsigned, T v, int m, int w = 32) {
  return emu::shuffle(v, w, [&](int l) { return l ^ m; });
}
template <class T>
T __shfl_sync(unsigned, T v, int s, int w = 32) {
  return emu::shuffle(v, w, [&](int) { return s % w; });
}
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline double atomicAdd(double* p, double v) { return std::atomic_ref<double>(*p).fetch_add(v); }
inline int atomicAdd(int* p, int v) { return std::atomic_ref<int>(*p).fetch_add(v); }
inline int atomicCAS(int* p, int cmp, int v) {
  std::atomic_ref<int>(*p).compare_exchange_strong(cmp, v);
  return cmp;
}
inline int atomicMax(int* p, int v) {
  int old = std::atomic_ref<int>(*p).load();
  while (old < v && !std::atomic_ref<int>(*p).compare_exchange_weak(old, v)) {
  }
  return old;
}
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline int __float2int_rz(float x) { return (int)x; }
template <class T>
T __ldg(const T* p) {
  return *p;
}
using std::isinf;
using std::isnan;
using std::max;
using std::min;
