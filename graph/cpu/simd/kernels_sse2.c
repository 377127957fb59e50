// The fast kernels for the baseline instruction set: SSE2 on x86-64, the compiler's
// default elsewhere (where the other two builds are empty and dispatch picks this one).
#define AIGC_SUFFIX _sse2
#include "kernels_impl.h"
