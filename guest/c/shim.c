/* The guest shim: the only code that touches the Lua C API.
 *
 * It owns one Lua state per wasm instance, opens the sandbox's library subset,
 * installs the global `bext` table, and exports the plugin ABI that the host's
 * `abi` module (host/src/guest/abi.rs) drives. Every entry point runs Lua under
 * lua_pcall and leaves the Lua stack as documented: the value the host reads
 * through `bext_output` stays anchored on the stack until the next entry.
 *
 * ABI, all integers little-endian wasm32:
 *
 *   u32  bext_abi_version(void)
 *   i32  bext_init(void)                      -> status; create state + libs
 *   ptr  bext_input(u32 len)                  -> input buffer of >= len bytes (0: no memory);
 *        valid until the next bext_input: the host writes later inputs of up to len bytes into it
 *   i32  bext_load(u32 name_len, u32 config_len, u32 source_len)
 *        input = name | config JSON | source text      -> status
 *   i32  bext_call(u32 method_len, u32 args_len)
 *        input = method name | encoded arguments       -> status
 *   i32  bext_describe(void)                  -> status; output = plugin table summary
 *   i32  bext_reseed(void)                    -> status; fresh math.random seed, os.clock restarts
 *   ptr  bext_output(void)                    -> struct bext_output (below), at one address for
 *        the instance's life: the host asks once
 *
 * A method that returns a table has it encoded with bext.json.encode
 * (bext_json.c): output kind OUT_JSON with the text, or OUT_JSON_ERROR with
 * the encoder's message when the table cannot be encoded.
 *
 * Arguments: a sequence of records, each a tag byte and its payload:
 *   'n' nil | 'b' u8 | 'i' i64 | 'f' f64 | 's' u32 length + bytes
 *
 * Host imports (module "bext"), see host/src/guest/imports.rs:
 *   log(level, ptr, len); metric(name_ptr, name_len, value, tags_ptr, tags_len) -> i32;
 *   event(kind, a_ptr, a_len, b_ptr, b_len); heap_exhausted(requested) (never returns);
 *   shared(op, req_ptr, req_len, out_ptr, out_cap) -> i32; shared_take(ptr, len) (bext.shared)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bext_abi.h"
#include "bext_json.h"
#include "msgh.h"
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#define EXPORT(name) __attribute__((export_name(#name))) name
#define IMPORT(name) __attribute__((import_module("bext"), import_name(name)))

IMPORT("log") extern void host_log(int32_t level, const char *ptr, size_t len);
IMPORT("metric")
extern int32_t host_metric(const char *name, size_t name_len, double value, const char *tags, size_t tags_len);
IMPORT("event") extern void host_event(int32_t kind, const char *a, size_t a_len, const char *b, size_t b_len);
IMPORT("heap_exhausted") __attribute__((noreturn)) extern void host_heap_exhausted(size_t requested);

/* ---- output slot: the host reads this struct after every entry ---- */
struct bext_output {
    uint32_t kind;
    uint32_t ptr; /* OUT_STRING, OUT_JSON, OUT_JSON_ERROR: bytes; OUT_OTHER: the Lua type name */
    uint32_t len;
    uint32_t pad;
    int64_t i; /* OUT_BOOL (0/1), OUT_INT */
    double f;  /* OUT_FLOAT */
};
_Static_assert(sizeof(struct bext_output) == BEXT_OUTPUT_SLOT_BYTES, "the host reads BEXT_OUTPUT_SLOT_BYTES");

static struct {
    lua_State *L;
    int plugin_ref; /* registry ref of the plugin table */
    int config_ref; /* registry ref of this plugin's config JSON */
    int action_ref; /* last middleware action made during this call, or LUA_NOREF */
    uint8_t *in;    /* host -> guest input buffer */
    size_t in_cap;
    size_t method_len;   /* bext_call: the method name is at `in` */
    const uint8_t *args; /* bext_call: the encoded arguments */
    size_t args_len;
    int missing_method; /* set by call_entry when the method is absent */
    int result_kind;    /* set by call_entry: OUT_JSON / OUT_JSON_ERROR when the result was a table */
    int syntax_error;   /* set by load_entry when the source does not compile */
    int raised_ref;     /* the last value `error` raised with a coded message, or LUA_NOREF */
    char raised_code[64]; /* its code (NUL-terminated) */
    size_t error_code_len; /* set by call_msgh: the uncaught error's code is in raised_code */
    struct timespec started; /* os.clock counts from here */
    struct bext_output out;
} shim = {.plugin_ref = LUA_NOREF, .config_ref = LUA_NOREF, .action_ref = LUA_NOREF, .raised_ref = LUA_NOREF};

/* ---- allocator ----
 * The heap limit is the instance's linear-memory limit. Lua answers a failed
 * allocation with an emergency full GC and one retry of the same request,
 * except where it cannot collect (while reallocating a stack, inside the
 * GC); then it raises "not enough memory" at once, which `pcall` could catch.
 * To make exhaustion uncatchable, a failed request stays pending until the
 * same request succeeds. The heap is exhausted, and we trap through the
 * host, when the pending request fails again, when another allocation grows
 * first (the failure was final and the script went on), or when the entry
 * point returns with the request still pending (see `oom_pending`). */
static struct {
    int pending;
    void *block;
    size_t size;
} oom;

static void *alloc(void *ud, void *block, size_t osize, size_t nsize) {
    (void)ud;
    if (nsize == 0) {
        free(block);
        return NULL;
    }
    int same = oom.pending && oom.block == block && oom.size == nsize;
    void *p = realloc(block, nsize);
    if (p) {
        /* Frees and shrinks happen inside the emergency GC and do not count. */
        if (oom.pending && (nsize > osize || block == NULL)) {
            if (!same) host_heap_exhausted(oom.size);
            oom.pending = 0;
        }
        return p;
    }
    if (oom.pending) host_heap_exhausted(nsize);
    oom.pending = 1;
    oom.block = block;
    oom.size = nsize;
    return NULL;
}

/* Called when an entry point is about to return to the host. */
static void oom_check(void) {
    if (oom.pending) host_heap_exhausted(oom.size);
}

static int panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    if (!msg) msg = "error object is not a string";
    host_log(LOG_ERROR, msg, strlen(msg));
    __builtin_trap(); /* the host discards the instance */
}

static void warnf(void *ud, const char *msg, int tocont) {
    (void)ud;
    (void)tocont;
    if (msg[0] == '@') return; /* control messages ("@on"/"@off") */
    host_log(LOG_WARN, msg, strlen(msg));
}

/* ---- output helpers ---- */
static void out_string(const char *p, size_t n) {
    shim.out = (struct bext_output){.kind = OUT_STRING, .ptr = (uint32_t)(uintptr_t)p, .len = (uint32_t)n};
}

static void out_literal(const char *s) { out_string(s, strlen(s)); }

/* Describes the value at `idx` in the output slot; strings stay anchored on the
 * stack, which the caller leaves in place until the next entry. */
static void out_value(lua_State *L, int idx) {
    shim.out = (struct bext_output){.kind = OUT_NIL};
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
        break;
    case LUA_TBOOLEAN:
        shim.out.kind = OUT_BOOL;
        shim.out.i = lua_toboolean(L, idx);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            shim.out.kind = OUT_INT;
            shim.out.i = lua_tointeger(L, idx);
        } else {
            shim.out.kind = OUT_FLOAT;
            shim.out.f = lua_tonumber(L, idx);
        }
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *p = lua_tolstring(L, idx, &n);
        out_string(p, n);
        break;
    }
    default: {
        const char *t = luaL_typename(L, idx);
        shim.out = (struct bext_output){.kind = OUT_OTHER, .ptr = (uint32_t)(uintptr_t)t, .len = (uint32_t)strlen(t)};
    }
    }
}

/* Error message at the top of the stack -> output; returns `status`. */
static int out_error(lua_State *L, int status) {
    size_t n;
    const char *msg = lua_tolstring(L, -1, &n);
    if (msg)
        out_string(msg, n);
    else
        out_literal("(error object is not a string)");
    return status;
}

/* LUA_ERRMEM is not ST_MEMORY: real exhaustion never gets here (the
 * allocator traps through the host first, `oom_check` at the latest), and
 * Lua also reports LUA_ERRMEM for any error whose value is its memory-error
 * message (lua_error compares it with "not enough memory"): a script's
 * `error("not enough memory")` or such a bext.shared error reply. That is
 * the script's error, not the sandbox's limit. */
static int status_of(int lua_status) {
    switch (lua_status) {
    case LUA_OK: return ST_OK;
    case LUA_ERRSYNTAX: return ST_SYNTAX;
    default: return ST_RUNTIME;
    }
}

/* Declared in msgh.h: the full profile uses it too. */
int bext_msgh(lua_State *L) {
    if (lua_tostring(L, 1) == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        lua_replace(L, 1);
    }
    /* message .. "\n" .. traceback, joined as Lua strings: luaL_traceback
     * takes the message as a C string and would cut it at a NUL byte. */
    lua_settop(L, 1);
    lua_pushliteral(L, "\n");
    luaL_traceback(L, L, NULL, 1);
    lua_concat(L, 3);
    return 1;
}

/* ---- error codes ----
 * A script picks a trait's error variant with a code: a snake_case word at
 * the start of the message it raises (`error("not_found: gone", 0)`), or the
 * `code` field of an error table (`error({code = "not_found", message =
 * "gone"})`). The code is taken from the raised value itself, never parsed
 * back from the text Lua reports: that text may start with a chunk name and
 * a position, which neither the script nor its code chose. */

/* Length of the code at the start of `s` (a run of [a-z_] followed by ':' or
 * the end), 0 when there is none or it is too long to keep. */
static size_t code_length(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) i++;
    if (i == 0 || i >= sizeof shim.raised_code || (i < n && s[i] != ':')) return 0;
    return i;
}

/* error(value [, level]) exactly as the base library's, which also
 * remembers the code of a coded string message together with the value
 * raised (the message with its position prepended). */
static int sandbox_error(lua_State *L) {
    int level = (int)luaL_optinteger(L, 2, 1);
    lua_settop(L, 1);
    size_t n = 0, code_len = 0;
    const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &n) : NULL;
    if (msg) code_len = code_length(msg, n);
    if (msg && level > 0) {
        luaL_where(L, level);
        lua_pushvalue(L, 1);
        lua_concat(L, 2);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, shim.raised_ref);
    shim.raised_ref = LUA_NOREF;
    if (code_len) {
        lua_pushvalue(L, -1);
        shim.raised_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        memcpy(shim.raised_code, msg, code_len); /* msg: argument 1, still on the stack */
        shim.raised_code[code_len] = '\0';
    }
    return lua_error(L);
}

/* The message handler of method calls: bext_msgh, and when the uncaught
 * value carries a code (an error table's `code`, or the very value
 * sandbox_error raised with one), the result is "code\nmessage...". */
static int call_msgh(lua_State *L) {
    size_t code_len = 0;
    if (lua_type(L, 1) == LUA_TTABLE) {
        size_t n;
        lua_pushliteral(L, "code");
        const char *code = lua_rawget(L, 1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        if (code && code_length(code, n) == n) {
            code_len = n;
            memcpy(shim.raised_code, code, n);
            shim.raised_code[n] = '\0';
            lua_pushliteral(L, "message");
            if (lua_rawget(L, 1) == LUA_TSTRING) {
                lua_pushliteral(L, ": ");
                lua_insert(L, -2);
                lua_concat(L, 3); /* "code: message" */
            } else {
                lua_pop(L, 1);
            }
            lua_replace(L, 1);
        }
        lua_settop(L, 1);
    } else if (shim.raised_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, shim.raised_ref);
        if (lua_rawequal(L, 1, -1)) code_len = strlen(shim.raised_code);
        lua_settop(L, 1);
    }
    bext_msgh(L);
    if (code_len) {
        lua_pushlstring(L, shim.raised_code, code_len);
        lua_pushliteral(L, "\n");
        lua_pushvalue(L, -3);
        lua_concat(L, 3);
        shim.error_code_len = code_len;
    }
    return 1;
}

/* Runs `entry` with no arguments on an emptied stack, under message handler
 * `msgh` (so errors carry a traceback), then reports an allocation failure
 * the host must see. Returns lua_pcall's status; `nresults` results stay on
 * top. */
static int run_entry_with(lua_State *L, lua_CFunction msgh, lua_CFunction entry, int nresults) {
    lua_settop(L, 0);
    lua_pushcfunction(L, msgh);
    lua_pushcfunction(L, entry);
    int status = lua_pcall(L, 0, nresults, 1);
    oom_check();
    return status;
}

/* run_entry_with bext_msgh. */
static int run_entry(lua_State *L, lua_CFunction entry, int nresults) {
    return run_entry_with(L, bext_msgh, entry, nresults);
}

/* ---- the sandbox's standard library subset ---- */

/* load(chunk [, chunkname [, mode [, env]]]) that only ever accepts text. */
static int sandbox_load(lua_State *L) {
    const char *mode = luaL_optstring(L, 3, "t");
    if (strchr(mode, 'b') != NULL) return luaL_error(L, "load: binary chunks are not allowed in the sandbox");
    int nargs = lua_gettop(L);
    if (nargs < 3) lua_settop(L, 3), nargs = 3;
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1)); /* the base library's load */
    lua_insert(L, 1);
    lua_call(L, nargs, LUA_MULTRET);
    return lua_gettop(L);
}

/* os.clock: seconds since this state started (WASI has no CPU-time clock). */
static int sandbox_clock(lua_State *L) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    lua_pushnumber(L, (lua_Number)(now.tv_sec - shim.started.tv_sec) + (now.tv_nsec - shim.started.tv_nsec) / 1e9);
    return 1;
}

/* print(...) goes to the host's log (never to the host's stdout). */
static int sandbox_print(lua_State *L) {
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    host_log(LOG_INFO, s, len);
    return 0;
}

static void open_sandbox_libs(lua_State *L) {
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_COLIBNAME, luaopen_coroutine}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_STRLIBNAME, luaopen_string}, {LUA_MATHLIBNAME, luaopen_math},     {LUA_UTF8LIBNAME, luaopen_utf8},
        {NULL, NULL}};
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    /* base: no file access, text-only load, print to the host log */
    lua_pushnil(L), lua_setglobal(L, "dofile");
    lua_pushnil(L), lua_setglobal(L, "loadfile");
    lua_getglobal(L, "load");
    lua_pushcclosure(L, sandbox_load, 1);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, sandbox_print);
    lua_setglobal(L, "print");
    lua_pushcfunction(L, sandbox_error);
    lua_setglobal(L, "error");
    /* string.dump makes binary chunks, which nothing here can load */
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L), lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* os: time, date and difftime from the stock library, our clock */
    luaopen_os(L);
    lua_createtable(L, 0, 4);
    static const char *const os_keep[] = {"time", "date", "difftime"};
    for (size_t i = 0; i < sizeof os_keep / sizeof *os_keep; i++) {
        lua_getfield(L, -2, os_keep[i]);
        lua_setfield(L, -2, os_keep[i]);
    }
    lua_pushcfunction(L, sandbox_clock);
    lua_setfield(L, -2, "clock");
    lua_setglobal(L, "os");
    lua_pop(L, 1);
}

/* math.randomseed from the host's CSPRNG: every instance made from one
 * snapshot or template would otherwise share the generator's state. */
static int reseed_entry(lua_State *L) {
    uint64_t seed[2] = {0, 0};
    (void)getentropy(seed, sizeof seed);
    lua_getglobal(L, LUA_MATHLIBNAME);
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, (lua_Integer)seed[0]);
    lua_pushinteger(L, (lua_Integer)seed[1]);
    lua_call(L, 2, 0);
    return 0;
}

/* ---- the `bext` table ---- */

static int bext_log(lua_State *L) {
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    int level = luaL_checkoption(L, 1, NULL, levels);
    size_t n;
    const char *msg = luaL_checklstring(L, 2, &n);
    host_log(level, msg, n);
    return 0;
}

static int bext_emit_metric(lua_State *L) {
    size_t name_len, tags_len = 0;
    const char *name = luaL_checklstring(L, 1, &name_len);
    lua_Number value = luaL_checknumber(L, 2);
    const char *tags = luaL_optlstring(L, 3, NULL, &tags_len);
    if (host_metric(name, name_len, value, tags, tags ? tags_len : 0) != 0)
        return luaL_error(L, "bext.emit_metric: tags_json must be a JSON object of string values");
    return 0;
}

static int bext_get_config(lua_State *L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, shim.config_ref);
    if (lua_isnil(L, -1)) lua_pushliteral(L, "{}");
    return 1;
}

/* Remembers the action string at the top of the stack (and returns it), so a
 * script that calls a middleware helper without returning its value still
 * gets that action. */
static int remember_action(lua_State *L) {
    lua_pushvalue(L, -1);
    luaL_unref(L, LUA_REGISTRYINDEX, shim.action_ref);
    shim.action_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

static int bext_middleware_continue(lua_State *L) {
    if (lua_isnoneornil(L, 1)) {
        lua_pushliteral(L, "{\"action\":\"continue\"}");
    } else {
        luaL_checkstring(L, 1);
        lua_pushliteral(L, "{\"action\":\"continue\",\"extensions\":");
        lua_pushvalue(L, 1);
        lua_pushliteral(L, "}");
        lua_concat(L, 3);
    }
    return remember_action(L);
}

/* middleware_respond(envelope_json [, extensions_json]) */
static int bext_middleware_respond(lua_State *L) {
    luaL_checkstring(L, 1);
    int with_extensions = !lua_isnoneornil(L, 2);
    if (with_extensions) luaL_checkstring(L, 2);
    lua_pushliteral(L, "{\"action\":\"respond\",\"response\":");
    lua_pushvalue(L, 1);
    if (with_extensions) {
        lua_pushliteral(L, ",\"extensions\":");
        lua_pushvalue(L, 2);
        lua_pushliteral(L, "}");
        lua_concat(L, 5);
    } else {
        lua_pushliteral(L, "}");
        lua_concat(L, 3);
    }
    return remember_action(L);
}

static int bext_event(lua_State *L, int kind) {
    size_t a_len, b_len;
    const char *a = luaL_checklstring(L, 1, &a_len);
    const char *b = luaL_optlstring(L, 2, "", &b_len);
    host_event(kind, a, a_len, b, b_len);
    return 0;
}

static int bext_cache_event(lua_State *L) { return bext_event(L, EVENT_CACHE); }
static int bext_lifecycle_event(lua_State *L) { return bext_event(L, EVENT_LIFECYCLE); }

/* transform returns nil for "unchanged"; the helper makes that readable. */
static int bext_transform_unchanged(lua_State *L) {
    lua_pushnil(L);
    return 1;
}

/* ---- bext.shared: the plugin's dictionary, kept by the host ----
 * host/src/shared.rs has the semantics (OpenResty's ngx.shared.DICT). Each
 * function encodes its arguments the way the host encodes bext_call's (see
 * push_args), calls host_shared, and pushes the reply, which the host
 * encodes the same way. Both bext.shared:get(k) and bext.shared.get(k) work. */
IMPORT("shared")
extern int32_t host_shared(int32_t op, const char *req, size_t req_len, uint8_t *out, size_t out_cap);
IMPORT("shared_take") extern void host_shared_take(uint8_t *out, size_t len);

/* Operation codes: SHARED_* in bext_abi.h. */

static int push_args(lua_State *L, const uint8_t *p, size_t n);

/* Appends the value at `idx` to the request; raises for unstorable types. */
static void shared_encode(lua_State *L, luaL_Buffer *b, int idx, const char *fn) {
    char rec[9];
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
        luaL_addchar(b, 'n');
        break;
    case LUA_TBOOLEAN:
        rec[0] = 'b';
        rec[1] = (char)lua_toboolean(L, idx);
        luaL_addlstring(b, rec, 2);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            int64_t v = (int64_t)lua_tointeger(L, idx);
            rec[0] = 'i';
            memcpy(rec + 1, &v, 8);
        } else {
            double v = (double)lua_tonumber(L, idx);
            rec[0] = 'f';
            memcpy(rec + 1, &v, 8);
        }
        luaL_addlstring(b, rec, 9);
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *str = lua_tolstring(L, idx, &n);
        uint32_t len = (uint32_t)n;
        rec[0] = 's';
        memcpy(rec + 1, &len, 4);
        luaL_addlstring(b, rec, 5);
        luaL_addlstring(b, str, n);
        break;
    }
    default:
        luaL_error(L, "bext.shared:%s: cannot store a %s value (strings, numbers and booleans only; encode tables with bext.json)",
                   fn, luaL_typename(L, idx));
    }
}

/* Runs operation `op` with the call's arguments (after `self`, if the call
 * used `:`); `has_key` checks the first as a string (numbers are converted). */
static int shared_op(lua_State *L, int op, const char *fn, int has_key) {
    static uint8_t reply[512];
    int base = lua_istable(L, 1) ? 2 : 1;
    if (has_key) luaL_checklstring(L, base, NULL);
    int top = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = base; i <= top; i++) shared_encode(L, &b, i, fn);
    luaL_pushresult(&b);
    size_t req_len;
    const char *req = lua_tolstring(L, -1, &req_len);
    int32_t n = host_shared(op, req, req_len, reply, sizeof reply);
    size_t len = n < 0 ? (size_t)(-(int64_t)n - 1) : (size_t)n;
    const uint8_t *p = reply;
    if (len > sizeof reply) {
        uint8_t *large = lua_newuserdatauv(L, len, 0);
        host_shared_take(large, len);
        p = large;
    }
    if (n < 0) {
        lua_pushlstring(L, (const char *)p, len);
        return lua_error(L);
    }
    int first = lua_gettop(L) + 1;
    int count = push_args(L, p, len);
    if (op != SHARED_KEYS) return count;
    /* push_args filled the stack up to what it checked. */
    luaL_checkstack(L, 1, "bext.shared:keys: too many keys");
    lua_createtable(L, count, 0);
    lua_insert(L, first);
    for (int i = count; i >= 1; i--) lua_rawseti(L, first, i);
    return 1;
}

static int shared_get(lua_State *L) { return shared_op(L, SHARED_GET, "get", 1); }
static int shared_set(lua_State *L) { return shared_op(L, SHARED_SET, "set", 1); }
static int shared_add(lua_State *L) { return shared_op(L, SHARED_ADD, "add", 1); }
static int shared_replace(lua_State *L) { return shared_op(L, SHARED_REPLACE, "replace", 1); }
static int shared_incr(lua_State *L) { return shared_op(L, SHARED_INCR, "incr", 1); }
static int shared_delete(lua_State *L) { return shared_op(L, SHARED_DELETE, "delete", 1); }
static int shared_ttl(lua_State *L) { return shared_op(L, SHARED_TTL, "ttl", 1); }
static int shared_expire(lua_State *L) { return shared_op(L, SHARED_EXPIRE, "expire", 1); }
static int shared_keys(lua_State *L) { return shared_op(L, SHARED_KEYS, "keys", 0); }
static int shared_flush_expired(lua_State *L) { return shared_op(L, SHARED_FLUSH_EXPIRED, "flush_expired", 0); }
static int shared_flush_all(lua_State *L) { return shared_op(L, SHARED_FLUSH_ALL, "flush_all", 0); }

static const luaL_Reg shared_funcs[] = {
    {"get", shared_get},         {"set", shared_set},     {"add", shared_add},
    {"replace", shared_replace}, {"incr", shared_incr},   {"delete", shared_delete},
    {"ttl", shared_ttl},         {"expire", shared_expire}, {"keys", shared_keys},
    {"flush_expired", shared_flush_expired}, {"flush_all", shared_flush_all}, {NULL, NULL},
};

static const luaL_Reg bext_funcs[] = {
    {"log", bext_log},
    {"emit_metric", bext_emit_metric},
    {"get_config", bext_get_config},
    {"middleware_respond", bext_middleware_respond},
    {"middleware_continue", bext_middleware_continue},
    {"cache_event", bext_cache_event},
    {"lifecycle_event", bext_lifecycle_event},
    {"transform_unchanged", bext_transform_unchanged},
    {NULL, NULL},
};

/* ---- entry points ---- */

static int init_entry(lua_State *L) {
    open_sandbox_libs(L);
    luaL_newlib(L, bext_funcs);
    bext_json_push_module(L);
    lua_setfield(L, -2, "json");
    luaL_newlib(L, shared_funcs);
    lua_setfield(L, -2, "shared");
    lua_setglobal(L, "bext");
    return reseed_entry(L);
}

uint32_t EXPORT(bext_abi_version)(void) { return BEXT_ABI_VERSION; }

int32_t EXPORT(bext_init)(void) {
    if (shim.L) return ST_OK;
    clock_gettime(CLOCK_MONOTONIC, &shim.started);
    lua_State *L = lua_newstate(alloc, NULL);
    if (!L) {
        out_literal("not enough memory to create a Lua state");
        return ST_MEMORY;
    }
    lua_atpanic(L, panic);
    lua_setwarnf(L, warnf, NULL);
    int status = run_entry(L, init_entry, 0);
    if (status != LUA_OK) {
        out_error(L, status);
        return status_of(status); /* the host discards this instance */
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT); /* the snapshot starts with no cycle in progress */
    shim.L = L;
    return ST_OK;
}

uint8_t *EXPORT(bext_input)(uint32_t len) {
    /* Keep a small buffer between calls; give a large one back. */
    if (shim.in_cap > (1u << 20) && len < (64u << 10)) {
        free(shim.in);
        shim.in = NULL;
        shim.in_cap = 0;
    }
    if (len > shim.in_cap || shim.in == NULL) {
        size_t cap = len < 4096 ? 4096 : len;
        uint8_t *p = realloc(shim.in, cap);
        if (!p) return NULL;
        shim.in = p;
        shim.in_cap = cap;
    }
    return shim.in;
}

static int load_entry(lua_State *L) {
    size_t name_len = (size_t)lua_tointeger(L, 1), config_len = (size_t)lua_tointeger(L, 2);
    size_t source_len = (size_t)lua_tointeger(L, 3);
    const char *name = (const char *)shim.in, *config = name + name_len, *source = config + config_len;
    lua_settop(L, 0);
    lua_pushlstring(L, config, config_len);
    shim.config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "=");
    lua_pushlstring(L, name, name_len);
    lua_concat(L, 2); /* chunk name: errors read "name:LINE: message" */
    int status = luaL_loadbufferx(L, source, source_len, lua_tostring(L, -1), "t");
    if (status != LUA_OK) {
        shim.syntax_error = 1;
        return 1; /* the message */
    }
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1)) {
        lua_pushstring(L, luaL_typename(L, -1));
        return 1;
    }
    lua_pushvalue(L, -1);
    shim.plugin_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

int32_t EXPORT(bext_load)(uint32_t name_len, uint32_t config_len, uint32_t source_len) {
    lua_State *L = shim.L;
    if (!L) return out_literal("bext_init has not run"), ST_NOT_READY;
    if (shim.plugin_ref != LUA_NOREF) return out_literal("a plugin is already loaded"), ST_NOT_READY;
    /* In 64 bits: three u32 lengths can wrap a wasm32 size_t. */
    if ((uint64_t)name_len + config_len + source_len > shim.in_cap) return out_literal("input larger than the buffer"), ST_BAD_INPUT;
    lua_settop(L, 0);
    shim.syntax_error = 0;
    lua_pushcfunction(L, bext_msgh);
    lua_pushcfunction(L, load_entry);
    lua_pushinteger(L, name_len);
    lua_pushinteger(L, config_len);
    lua_pushinteger(L, source_len);
    int status = lua_pcall(L, 3, 1, 1);
    oom_check();
    if (status != LUA_OK) return out_error(L, status_of(status));
    if (shim.syntax_error) return out_error(L, ST_SYNTAX);
    if (shim.plugin_ref == LUA_NOREF) return out_error(L, ST_NOT_TABLE);
    /* A full collection before the host captures the fork template: forks
       then start with no cycle in progress and no debt, so their first
       calls do not mark (write to) every object of the plugin's state,
       whose pages the forks share copy-on-write. */
    lua_gc(L, LUA_GCCOLLECT);
    shim.out = (struct bext_output){.kind = OUT_NIL};
    return ST_OK;
}

/* Pushes the encoded arguments; raises a Lua error on malformed input. */
static int push_args(lua_State *L, const uint8_t *p, size_t n) {
    int count = 0;
    const uint8_t *end = p + n;
    while (p < end) {
        uint8_t tag = *p++;
        size_t need = tag == 'n' ? 0 : tag == 'b' ? 1 : (tag == 'i' || tag == 'f') ? 8 : tag == 's' ? 4 : SIZE_MAX;
        if (need == SIZE_MAX || (size_t)(end - p) < need) return luaL_error(L, "bad argument encoding");
        luaL_checkstack(L, 1, "too many arguments");
        switch (tag) {
        case 'n': lua_pushnil(L); break;
        case 'b': lua_pushboolean(L, *p != 0); break;
        case 'i': {
            int64_t v;
            memcpy(&v, p, 8);
            lua_pushinteger(L, (lua_Integer)v);
            break;
        }
        case 'f': {
            double v;
            memcpy(&v, p, 8);
            lua_pushnumber(L, v);
            break;
        }
        case 's': {
            uint32_t len;
            memcpy(&len, p, 4);
            if ((size_t)(end - p) - 4 < len) return luaL_error(L, "bad argument encoding");
            lua_pushlstring(L, (const char *)p + 4, len);
            need += len;
            break;
        }
        }
        p += need;
        count++;
    }
    return count;
}

/* Calls plugin[method](plugin, args...) and returns its first result. */
static int call_entry(lua_State *L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, shim.plugin_ref); /* 1: self */
    lua_pushlstring(L, (const char *)shim.in, shim.method_len);
    lua_gettable(L, 1); /* 2: the method (may run __index) */
    if (lua_isnil(L, 2)) {
        shim.missing_method = 1;
        return 0;
    }
    lua_insert(L, 1);
    int nargs = push_args(L, shim.args, shim.args_len);
    lua_call(L, nargs + 1, 1);
    if (lua_isnil(L, -1) && shim.action_ref != LUA_NOREF) lua_rawgeti(L, LUA_REGISTRYINDEX, shim.action_ref);
    if (lua_istable(L, -1)) {
        /* The host reads a table as JSON. Encoding under its own pcall lets
         * the host report an unencodable table as bad output, not as an
         * error of the method. */
        lua_pushcfunction(L, bext_json_encode);
        lua_insert(L, -2);
        int status = lua_pcall(L, 1, 1, 0);
        if (status == LUA_ERRMEM) return lua_error(L);
        shim.result_kind = status == LUA_OK ? OUT_JSON : OUT_JSON_ERROR;
    }
    return 1;
}

int32_t EXPORT(bext_call)(uint32_t method_len, uint32_t args_len) {
    lua_State *L = shim.L;
    if (!L || shim.plugin_ref == LUA_NOREF) return out_literal("no plugin is loaded"), ST_NOT_READY;
    if ((uint64_t)method_len + args_len > shim.in_cap) return out_literal("input larger than the buffer"), ST_BAD_INPUT;
    luaL_unref(L, LUA_REGISTRYINDEX, shim.action_ref);
    shim.action_ref = LUA_NOREF;
    luaL_unref(L, LUA_REGISTRYINDEX, shim.raised_ref);
    shim.raised_ref = LUA_NOREF;
    shim.error_code_len = 0;
    shim.missing_method = 0;
    shim.result_kind = 0;
    shim.method_len = method_len;
    shim.args = shim.in + method_len;
    shim.args_len = args_len;
    int status = run_entry_with(L, call_msgh, call_entry, 1);
    if (status == LUA_ERRRUN && shim.error_code_len) return out_error(L, ST_RUNTIME_CODE);
    if (status != LUA_OK) return out_error(L, status_of(status));
    if (shim.missing_method) {
        out_string((const char *)shim.in, method_len);
        return ST_NO_METHOD;
    }
    out_value(L, -1);
    if (shim.result_kind && shim.out.kind == OUT_STRING) shim.out.kind = (uint32_t)shim.result_kind;
    return ST_OK;
}

/* Whether `s` is a Lua identifier ([A-Za-z_][A-Za-z0-9_]*). Only those are
 * listed as methods: a key such as "get\nset\ndelete" would otherwise forge
 * lines of the summary (and no trait method has another shape). */
static int is_identifier(const char *s, size_t n) {
    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

/* Appends to the summary at index 2 each identifier key of the table at
 * index 3 for which plugin[key] (plugin at index 1) is a function. Uses 4
 * slots. */
static void describe_methods(lua_State *L) {
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) { /* 4: key, 5: value */
        size_t n;
        if (lua_type(L, 4) == LUA_TSTRING && is_identifier(lua_tolstring(L, 4, &n), n) && lua_isfunction(L, 5)) {
            /* Listed only if the lookup finds this function's name first. */
            lua_pushvalue(L, 4);
            if (lua_gettable(L, 1) == LUA_TFUNCTION) {
                lua_pushvalue(L, 2);
                lua_pushliteral(L, "\n");
                lua_pushvalue(L, 4);
                lua_concat(L, 3);
                lua_replace(L, 2);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* Output: the integer `priority` field (or nothing), then one line per method:
 * a function-valued identifier key of the plugin table, or of the tables its
 * `__index` chain leads to (class-style plugins). Duplicates may appear. */
static int describe_entry(lua_State *L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, shim.plugin_ref); /* 1: plugin table */
    lua_getfield(L, 1, "priority");
    if (lua_isinteger(L, 2))
        lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, 2));
    else
        lua_pushliteral(L, "");
    lua_replace(L, 2);     /* 2: the summary so far */
    lua_pushvalue(L, 1);   /* 3: the table whose keys are listed */
    for (int level = 0; level < 16; level++) { /* bounded: __index chains may loop */
        describe_methods(L);
        if (!lua_getmetatable(L, 3)) break; /* 4 */
        lua_pushliteral(L, "__index");
        if (lua_rawget(L, 4) != LUA_TTABLE) break; /* 5 */
        lua_replace(L, 3);
        lua_settop(L, 3);
    }
    lua_settop(L, 2);
    return 1;
}

int32_t EXPORT(bext_describe)(void) {
    lua_State *L = shim.L;
    if (!L || shim.plugin_ref == LUA_NOREF) return out_literal("no plugin is loaded"), ST_NOT_READY;
    int status = run_entry(L, describe_entry, 1);
    if (status != LUA_OK) return out_error(L, status_of(status));
    out_value(L, -1);
    return ST_OK;
}

/* Called on every instance made from a snapshot or a fork template. */
int32_t EXPORT(bext_reseed)(void) {
    lua_State *L = shim.L;
    if (!L) return out_literal("bext_init has not run"), ST_NOT_READY;
    clock_gettime(CLOCK_MONOTONIC, &shim.started);
    int status = run_entry(L, reseed_entry, 0);
    if (status != LUA_OK) return out_error(L, status_of(status));
    lua_settop(L, 0);
    shim.out = (struct bext_output){.kind = OUT_NIL};
    return ST_OK;
}

struct bext_output *EXPORT(bext_output)(void) { return &shim.out; }
