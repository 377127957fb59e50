//go:build aigc_emu

// emu.cpp is the host emulation's runtime (see emu.h), with every kernel file compiled in.
#define AIGC_EMU 1
#include "emu.h"

#include <barrier>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "emu_api.h"

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace emu {
std::map<std::string, Entry>& registry() {
  static std::map<std::string, Entry> r;
  return r;
}

namespace {
// The running launch: its barrier, dynamic shared memory and shuffle slots.
std::unique_ptr<std::barrier<>> bar;
std::vector<unsigned char> dyn;
uint64_t slots[1024];

// pool is the block's threads, kept between launches: launch n runs job(t) on threads
// 0..n−1 and waits for them.
struct Pool {
  std::mutex mu;
  std::condition_variable start, done;
  std::vector<std::thread> threads;
  uint64_t gen = 0;
  unsigned active = 0, running = 0;
  std::function<void(unsigned)> job;

  void run(unsigned n, std::function<void(unsigned)> j) {
    std::unique_lock<std::mutex> l(mu);
    while (threads.size() < n) {
      unsigned id = threads.size();
      threads.emplace_back([this, id] { loop(id); });
      threads.back().detach();
    }
    job = std::move(j);
    active = running = n;
    gen++;
    start.notify_all();
    done.wait(l, [&] { return running == 0; });
  }
  void loop(unsigned id) {
    uint64_t seen = 0;
    for (;;) {
      std::function<void(unsigned)>* j;
      {
        std::unique_lock<std::mutex> l(mu);
        start.wait(l, [&] { return gen != seen && id < active; });
        seen = gen;
        j = &job;
      }
      (*j)(id);
      std::lock_guard<std::mutex> l(mu);
      if (--running == 0) done.notify_one();
    }
  }
};
Pool pool;
std::mutex launchMu;
}  // namespace

void syncthreads() { bar->arrive_and_wait(); }
void* dynamic_shared() { return dyn.data(); }
uint64_t* exchange() { return slots; }
}  // namespace emu

extern "C" int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz, unsigned shared, const uint64_t* args, int nargs, char* msg, int msglen) {
  auto& r = emu::registry();
  auto it = r.find(name);
  if (it == r.end()) {
    snprintf(msg, msglen, "emu: no kernel %s", name);
    return -1;
  }
  if (it->second.nargs != nargs) {
    snprintf(msg, msglen, "emu: kernel %s takes %d parameters, given %d", name, it->second.nargs, nargs);
    return -1;
  }
  unsigned n = bx * by * bz;
  if (n == 0 || n > 1024 || gx == 0 || gy == 0 || gz == 0) {
    snprintf(msg, msglen, "emu: kernel %s: bad launch grid (%u,%u,%u) block (%u,%u,%u)", name, gx, gy, gz, bx, by, bz);
    return -1;
  }
  std::lock_guard<std::mutex> l(emu::launchMu);
  gridDim = dim3(gx, gy, gz);
  blockDim = dim3(bx, by, bz);
  emu::dyn.assign(shared + 16, 0);
  emu::bar = std::make_unique<std::barrier<>>(n);
  emu::Entry e = it->second;
  std::vector<uint64_t> a(args, args + nargs);
  emu::pool.run(n, [&](unsigned t) {
    threadIdx = dim3(t % bx, t / bx % by, t / (bx * by));
    for (unsigned z = 0; z < gz; z++)
      for (unsigned y = 0; y < gy; y++)
        for (unsigned x = 0; x < gx; x++) {
          blockIdx = dim3(x, y, z);
          e.invoke(e.fn, a.data());
          emu::bar->arrive_and_wait();  // the block ends before the next begins
        }
  });
  return 0;
}

extern "C" void emu_sgemm_strided_batched(int transa, int transb, int m, int n, int k, float alpha, const float* a,
                                          int lda, long long sa, const float* b, int ldb, long long sb, float beta,
                                          float* c, int ldc, long long sc, int batch) {
  for (int p = 0; p < batch; p++) {
    const float *A = a + p * sa, *B = b + p * sb;
    float* C = c + p * sc;
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        double s = 0;
        for (int l = 0; l < k; l++) {
          float x = transa ? A[l + (long long)i * lda] : A[i + (long long)l * lda];
          float y = transb ? B[j + (long long)l * ldb] : B[l + (long long)j * ldb];
          s += (double)x * y;
        }
        float& out = C[i + (long long)j * ldc];
        out = (float)(alpha * s + (beta == 0 ? 0.0 : (double)beta * out));
      }
  }
}

extern "C" int emu_count(void) { return (int)emu::registry().size(); }

extern "C" const char* emu_name(int i) {
  auto it = emu::registry().begin();
  std::advance(it, i);
  return it->first.c_str();
}

// Every kernel file.
#include "kernels.inc"
