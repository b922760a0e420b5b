/*
 * The only place that includes the WebAssembly SIMD header. Emscripten
 * builds get the real intrinsics; native builds get SIMDe's portable
 * implementation of the same wasm_* API, so one kernel source serves both.
 *
 * f32x4_madd(a, b, c) = a * b + c is the one multiply-accumulate of the
 * GEMM and convolution microkernels. The relaxed-SIMD build (-mrelaxed-simd,
 * dist/edgeinfer-relaxed.wasm) makes it f32x4.relaxed_madd, which the engine
 * may fuse (one rounding instead of two); every other build, and native
 * code, multiplies then adds.
 */
#ifndef EI_SIMD_H
#define EI_SIMD_H

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/wasm/simd128.h>
#endif

#if defined(__wasm_relaxed_simd__)
/* LLVM 14 knows relaxed madd only as the pre-standard f32x4.fma (opcode
 * 0xfd 0xaf 0x01): the operands go on the stack in the order given and
 * web/relaxed-opcodes.mjs rewrites each such instruction in the linked
 * binary to the standard f32x4.relaxed_madd (0xfd 0x85 0x02), which computes
 * a * b + c from that stack. Newer clangs spell it wasm_f32x4_relaxed_madd. */
#if defined(__clang_major__) && __clang_major__ < 16
static inline v128_t f32x4_madd(v128_t a, v128_t b, v128_t c) {
    return (v128_t)__builtin_wasm_fma_f32x4((__f32x4)a, (__f32x4)b, (__f32x4)c);
}
#else
static inline v128_t f32x4_madd(v128_t a, v128_t b, v128_t c) {
    return wasm_f32x4_relaxed_madd(a, b, c);
}
#endif
#else
static inline v128_t f32x4_madd(v128_t a, v128_t b, v128_t c) {
    return wasm_f32x4_add(wasm_f32x4_mul(a, b), c);
}
#endif

#endif
