/* The guest shim (guest/c/shim.c), compiled natively and driven through its
 * exports as the host drives it (host/src/abi.rs), with the host's imports
 * replaced by the stubs below. The shim is #included, so a target also
 * reaches its static state (`shim`) and reads results from the Lua stack:
 * natively the output slot's 32-bit pointers cannot hold an address.
 *
 * Include this in exactly one file per target, before anything else. */
#ifndef BEXT_FUZZ_SHIM_HOST_H
#define BEXT_FUZZ_SHIM_HOST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The wasm import/export attributes mean nothing natively. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-attributes"
#pragma clang diagnostic ignored "-Wignored-attributes"
#include "shim.c"
#pragma clang diagnostic pop

/* Aborts with a message: libFuzzer reports it as a crash and keeps the input. */
static inline _Noreturn void fuzz_abort(const char *what) {
    fprintf(stderr, "fuzz property failed: %s\n", what);
    abort();
}

/* ---- the host's imports ---- */

void host_log(int32_t level, const char *ptr, size_t len) {
    (void)level, (void)ptr, (void)len;
}

int32_t host_metric(const char *name, size_t name_len, double value, const char *tags, size_t tags_len) {
    (void)name, (void)name_len, (void)value, (void)tags, (void)tags_len;
    return 0;
}

void host_event(int32_t kind, const char *a, size_t a_len, const char *b, size_t b_len) {
    (void)kind, (void)a, (void)a_len, (void)b, (void)b_len;
}

void host_heap_exhausted(size_t requested) {
    fprintf(stderr, "host_heap_exhausted(%zu): a native allocation failed\n", requested);
    abort();
}

/* bext.shared: the next reply is whatever the target put here (the host
 * encodes replies from values scripts stored, so their bytes are
 * guest-controlled). Same protocol as host/src/imports.rs: n >= 0 is a
 * reply of n bytes, n < 0 an error message of -n-1 bytes; at `out` if it
 * fits in `out_cap`, else fetched with shared_take. */
static struct {
    const uint8_t *reply;
    size_t len;
    int is_error;
    int pending; /* a reply larger than out_cap waits for shared_take */
    int calls;
} shared_stub;

int32_t host_shared(int32_t op, const char *req, size_t req_len, uint8_t *out, size_t out_cap) {
    (void)op, (void)req, (void)req_len;
    shared_stub.calls++;
    if (shared_stub.len <= out_cap)
        memcpy(out, shared_stub.reply, shared_stub.len);
    else
        shared_stub.pending = 1;
    return shared_stub.is_error ? -(int32_t)shared_stub.len - 1 : (int32_t)shared_stub.len;
}

void host_shared_take(uint8_t *out, size_t len) {
    if (!shared_stub.pending || len != shared_stub.len) {
        fprintf(stderr, "shared_take of %zu bytes, %zu pending\n", len, shared_stub.pending ? shared_stub.len : 0);
        abort();
    }
    memcpy(out, shared_stub.reply, len);
    shared_stub.pending = 0;
}

/* ---- driving the exports ---- */

/* Drops the state and starts a fresh one (bext_init). */
static inline void shim_reset(void) {
    if (shim.L) lua_close(shim.L);
    free(shim.in);
    memset(&shim, 0, sizeof shim);
    shim.plugin_ref = shim.config_ref = shim.action_ref = shim.raised_ref = LUA_NOREF;
    memset(&oom, 0, sizeof oom);
    if (bext_init() != ST_OK) {
        fprintf(stderr, "bext_init failed\n");
        abort();
    }
}

/* bext_load(name | config | source); returns the status. */
static inline int32_t shim_load(const char *name, size_t name_len, const char *config, size_t config_len, const char *source,
                         size_t source_len) {
    uint8_t *in = bext_input((uint32_t)(name_len + config_len + source_len));
    if (!in) abort();
    memcpy(in, name, name_len);
    memcpy(in + name_len, config, config_len);
    memcpy(in + name_len + config_len, source, source_len);
    return bext_load((uint32_t)name_len, (uint32_t)config_len, (uint32_t)source_len);
}

/* A fresh state with `source` loaded as plugin "fuzz"; aborts if it fails. */
static inline void shim_start(const char *source) {
    shim_reset();
    if (shim_load("fuzz", 4, "{}", 2, source, strlen(source)) != ST_OK) {
        fprintf(stderr, "loading the fuzz plugin failed: %.*s\n", (int)shim.out.len,
                shim.out.kind == OUT_STRING ? lua_tostring(shim.L, -1) : "");
        abort();
    }
}

/* bext_call(method | args); returns the status. */
static inline int32_t shim_call(const char *method, const uint8_t *args, size_t args_len) {
    size_t method_len = strlen(method);
    uint8_t *in = bext_input((uint32_t)(method_len + args_len));
    if (!in) abort();
    memcpy(in, method, method_len);
    if (args_len) memcpy(in + method_len, args, args_len);
    return bext_call((uint32_t)method_len, (uint32_t)args_len);
}

/* The string an entry left as its result or error message (anchored at the
 * top of the Lua stack until the next entry). */
static inline const char *shim_result(size_t *len) {
    const char *s = lua_tolstring(shim.L, -1, len);
    if (!s) {
        *len = 0;
        return "";
    }
    return s;
}

/* Lua source of `pack(...)`: the values re-encoded in the argument format
 * ('n' | 'b' u8 | 'i' i64 | 'f' f64 | 's' u32 + bytes), booleans as 0/1. */
#define PACK_LUA                                                                 \
    "local function pack(...)\n"                                                 \
    "  local out = {}\n"                                                         \
    "  for i = 1, select('#', ...) do\n"                                         \
    "    local v = select(i, ...)\n"                                             \
    "    if v == nil then out[i] = 'n'\n"                                        \
    "    elseif type(v) == 'boolean' then out[i] = v and 'b\\1' or 'b\\0'\n"     \
    "    elseif math.type(v) == 'integer' then out[i] = 'i' .. string.pack('<i8', v)\n" \
    "    elseif type(v) == 'number' then out[i] = 'f' .. string.pack('<d', v)\n" \
    "    elseif type(v) == 'string' then out[i] = 's' .. string.pack('<s4', v)\n" \
    "    else error('pack: a ' .. type(v)) end\n"                                \
    "  end\n"                                                                    \
    "  return table.concat(out)\n"                                               \
    "end\n"

/* The reference decoder of the argument format: writes the normalized
 * encoding (booleans as 0/1) to `out` (room for `len` bytes) and returns its
 * length, or -1 when the input is malformed. */
static inline long ref_args(const uint8_t *p, size_t len, uint8_t *out) {
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t tag = p[i++];
        size_t need;
        switch (tag) {
        case 'n': need = 0; break;
        case 'b': need = 1; break;
        case 'i':
        case 'f': need = 8; break;
        case 's': {
            if (len - i < 4) return -1;
            uint32_t n;
            memcpy(&n, p + i, 4);
            if (len - i - 4 < n) return -1;
            need = 4 + (size_t)n;
            break;
        }
        default: return -1;
        }
        if (len - i < need) return -1;
        out[o++] = tag;
        if (tag == 'b')
            out[o++] = p[i] != 0;
        else
            memcpy(out + o, p + i, need), o += need;
        i += need;
    }
    return (long)o;
}

#endif
