/*
 * The only place that includes the WebAssembly SIMD header. Emscripten
 * builds get the real intrinsics; native builds get SIMDe's portable
 * implementation of the same wasm_* API, so one kernel source serves both.
 */
#ifndef EI_SIMD_H
#define EI_SIMD_H

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/wasm/simd128.h>
#endif

#endif
