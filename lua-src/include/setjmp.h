/* <setjmp.h> for wasm32-wasip1.
 *
 * Neither Debian's wasi-libc headers nor Rust's self-contained wasi libc ship
 * one. With `-mllvm -wasm-enable-sjlj`, LLVM lowers every setjmp/longjmp call
 * into calls to __wasm_setjmp / __wasm_setjmp_test / __wasm_longjmp (see
 * ../c/sjlj_runtime.c) and wasm exception handling, so only the declarations
 * and a buffer of the right size are needed here. */
#ifndef BEXT_SETJMP_H
#define BEXT_SETJMP_H

/* Same size and alignment as musl's wasm32 __jmp_buf. */
typedef unsigned long long jmp_buf[6];

int setjmp(jmp_buf) __attribute__((__returns_twice__));
_Noreturn void longjmp(jmp_buf, int);

/* ldo.c uses the POSIX spellings under LUA_USE_POSIX; there are no signal
 * masks to skip on WASI, so they are the same functions. */
#define _setjmp setjmp
#define _longjmp longjmp

#endif
