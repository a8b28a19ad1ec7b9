/* Runtime helpers for LLVM's WebAssembly setjmp/longjmp lowering (LLVM >= 19
 * ABI, exception-handling based), which Lua's error handling (LUAI_TRY /
 * LUAI_THROW in ldo.c) compiles to.
 *
 * wasi-libc ships these as libsetjmp.a, but neither Debian's wasi-libc nor
 * Rust's self-contained wasi libc.a does, so we provide our own, linked under
 * the name lua-src asks for (`setjmp`). This file must itself be compiled with
 * `-mllvm -wasm-enable-sjlj` so that the tag thrown below is __c_longjmp. */
#include <stddef.h>
#include <stdint.h>

struct jmp_buf_impl {
    void *func_invocation_id;
    uint32_t label;
    struct {
        void *env;
        int val;
    } arg;
};
_Static_assert(sizeof(struct jmp_buf_impl) <= 48, "jmp_buf (setjmp.h) too small");

void __wasm_setjmp(void *env, uint32_t label, void *func_invocation_id) {
    struct jmp_buf_impl *jb = env;
    if (label == 0 || func_invocation_id == NULL) __builtin_trap();
    jb->func_invocation_id = func_invocation_id;
    jb->label = label;
}

uint32_t __wasm_setjmp_test(void *env, void *func_invocation_id) {
    struct jmp_buf_impl *jb = env;
    if (jb->label == 0 || func_invocation_id == NULL) __builtin_trap();
    return jb->func_invocation_id == func_invocation_id ? jb->label : 0;
}

void __wasm_longjmp(void *env, int val) {
    struct jmp_buf_impl *jb = env;
    if (val == 0) val = 1;
    jb->arg.env = env;
    jb->arg.val = val;
    __builtin_wasm_throw(1 /* the __c_longjmp tag */, &jb->arg);
}

/* LLVM 22 no longer defines the __c_longjmp tag itself. Without this
 * definition wasm-ld silently turns the tag into an `env.__c_longjmp` import
 * and the module fails to instantiate (the guest's import test catches it). */
#if __clang_major__ >= 22
__asm__(".globl __c_longjmp\n.tagtype __c_longjmp i32\n__c_longjmp:\n");
#endif
