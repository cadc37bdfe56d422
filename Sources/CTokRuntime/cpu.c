#include "CTokRuntime.h"

// What the CPU can do beyond the x86-64 baseline, found once at load: a build
// for any x86-64 must not assume AVX-512, so its paths are chosen at run time.

int tok_wide_classes = 0;
int tok_wide_utf8 = 0;

#if defined(__x86_64__)
__attribute__((constructor)) static void tok_detect_cpu(void) {
    __builtin_cpu_init();  // a constructor may run before the runtime's own CPU detection
    int avx512bw = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    tok_wide_classes = avx512bw;
    tok_wide_utf8 = avx512bw && __builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("bmi2");
}
#endif
