// emu_api.h: the C interface of the host emulation (emu.cpp) that Go calls (emu.go).
#ifndef AIGC_EMU_API_H
#define AIGC_EMU_API_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
// emu_launch runs kernel name over a grid of blocks; args holds nargs parameters of 8
// bytes each. It returns 0, or -1 with msg filled when there is no such kernel or the
// count of parameters is wrong.
int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned shared, const uint64_t* args, int nargs, char* msg, int msglen);
// emu_sgemm_strided_batched is cublasSgemmStridedBatched's arithmetic (column-major).
void emu_sgemm_strided_batched(int transa, int transb, int m, int n, int k, float alpha, const float* a, int lda,
                               long long sa, const float* b, int ldb, long long sb, float beta, float* c, int ldc,
                               long long sc, int batch);
// emu_count and emu_name list the registered kernels.
int emu_count(void);
const char* emu_name(int i);
#ifdef __cplusplus
}
#endif
#endif
