/* Shared by the libFuzzer targets in fuzz/targets/ and by the differential
 * oracle's glue (fuzz/diff/glue.c): a native Lua state with bext.json, the
 * canonical form of a decoded value, and the shortest-float check.
 *
 * Header-only (static functions): each target is one translation unit plus
 * the native Lua library, so nothing here needs its own object file. */
#ifndef BEXT_FUZZ_LUA_H
#define BEXT_FUZZ_LUA_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bext_json.h"
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

/* Aborts with a message: libFuzzer reports it as a crash and keeps the input. */
static inline _Noreturn void fuzz_fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz property failed: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* Significant digits in a JSON number's text ("1.50e-3" -> 2, "100.0" -> 1,
 * "0.0" -> 1). */
static inline int significant_digits(const char *s) {
    char digits[64];
    int n = 0;
    for (; *s && *s != 'e' && *s != 'E'; s++)
        if (*s >= '0' && *s <= '9' && n < (int)sizeof digits) digits[n++] = *s;
    int lo = 0, hi = n;
    while (lo < hi && digits[lo] == '0') lo++;
    while (hi > lo && digits[hi - 1] == '0') hi--;
    return hi > lo ? hi - lo : 1;
}

/* The fewest significant digits that read back as x: the first precision
 * whose correctly rounded "%.*e" (glibc prints exactly) round-trips. */
static inline int shortest_digits(double x) {
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        if (strtod(tmp, NULL) == x) return prec;
    }
    return 17;
}

/* fuzz.check_float(x, text): text (bext.json.encode's output for the float
 * x) must read back as x, bit for bit, stay a float (a '.' or an exponent),
 * and have no more digits than the shortest form (the encoder's promise). */
static inline int fuzz_check_float(lua_State *L) {
    double x = luaL_checknumber(L, 1);
    const char *text = luaL_checkstring(L, 2);
    double back = strtod(text, NULL);
    uint64_t bx, bb;
    memcpy(&bx, &x, 8);
    memcpy(&bb, &back, 8);
    char detail[160];
    snprintf(detail, sizeof detail, "%.17g (bits %016llx) encoded as %s", x, (unsigned long long)bx, text);
    if (bx != bb) fuzz_fail("a float does not read back as itself", detail);
    if (!strpbrk(text, ".eE")) fuzz_fail("a float encodes without '.' or an exponent", detail);
    int have = significant_digits(text), want = shortest_digits(x);
    if (have > want) {
        snprintf(detail, sizeof detail, "%.17g encoded as %s: %d digits, shortest is %d", x, text, have, want);
        fuzz_fail("a float encodes with more digits than its shortest form", detail);
    }
    return 0;
}

/* The canonical form of a value (Lua source, run once per state): equal
 * values give equal strings, key order aside.
 *   n (null) | T | F | i<decimal> | f<16 hex digits of the bits> |
 *   s<hex bytes> | [a,b] | {k:v,...} with keys sorted
 * Every float passes through fuzz.check_float with its own encoding. */
static const char CANON_LUA[] =
    "local json, check_float = ...\n"
    "local array_mt = getmetatable(json.array())\n"
    "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end\n"
    "local canon\n"
    "function canon(v)\n"
    "  local t = type(v)\n"
    "  if v == json.null then return 'n'\n"
    "  elseif t == 'boolean' then return v and 'T' or 'F'\n"
    "  elseif math.type(v) == 'integer' then return 'i' .. string.format('%d', v)\n"
    "  elseif t == 'number' then\n"
    "    check_float(v, json.encode(v))\n"
    "    return string.format('f%016x', string.unpack('<i8', string.pack('<d', v)))\n"
    "  elseif t == 'string' then return 's' .. hex(v)\n"
    "  elseif t == 'table' then\n"
    "    local parts = {}\n"
    "    if getmetatable(v) == array_mt then\n"
    "      for i = 1, #v do parts[i] = canon(v[i]) end\n"
    "      return '[' .. table.concat(parts, ',') .. ']'\n"
    "    end\n"
    "    local keys = {}\n"
    "    for k in pairs(v) do keys[#keys + 1] = k end\n"
    "    table.sort(keys)\n"
    "    for i, k in ipairs(keys) do parts[i] = 's' .. hex(k) .. ':' .. canon(v[k]) end\n"
    "    return '{' .. table.concat(parts, ',') .. '}'\n"
    "  end\n"
    "  error('canon: unexpected ' .. t)\n"
    "end\n"
    "return canon\n";

/* A state with the standard libraries and bext.json as the global `json`,
 * and `canon` (the function above, calling `check_float` on every float) as
 * a global too. The targets pass fuzz_check_float; the differential oracle
 * passes a function that records the floats instead. */
static inline lua_State *fuzz_new_state(lua_CFunction check_float) {
    lua_State *L = luaL_newstate();
    if (!L) fuzz_fail("luaL_newstate", NULL);
    luaL_openlibs(L);
    bext_json_push_module(L);
    lua_setglobal(L, "json");
    if (luaL_loadbufferx(L, CANON_LUA, sizeof CANON_LUA - 1, "=canon", "t") != LUA_OK)
        fuzz_fail("loading canon", lua_tostring(L, -1));
    lua_getglobal(L, "json");
    lua_pushcfunction(L, check_float);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) fuzz_fail("running canon", lua_tostring(L, -1));
    lua_setglobal(L, "canon");
    return L;
}

/* Loads a property chunk (Lua source) that returns a function; leaves that
 * function in the registry and returns its reference. */
static inline int fuzz_load_property(lua_State *L, const char *name, const char *source) {
    if (luaL_loadbufferx(L, source, strlen(source), name, "t") != LUA_OK) fuzz_fail("loading a property", lua_tostring(L, -1));
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) fuzz_fail("running a property chunk", lua_tostring(L, -1));
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Message handler: the error with a traceback. */
static inline int fuzz_msgh(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* Calls the property `ref` with the input as one string; any Lua error it
 * raises is a failed property. Collects garbage now and then so a long run
 * stays small. */
static inline void fuzz_run_property(lua_State *L, int ref, const uint8_t *data, size_t size) {
    static unsigned runs;
    lua_settop(L, 0);
    lua_pushcfunction(L, fuzz_msgh);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 1) != LUA_OK) fuzz_fail("property", lua_tostring(L, -1));
    lua_settop(L, 0);
    if (++runs % 256 == 0) lua_gc(L, LUA_GCCOLLECT);
}

/* The libFuzzer entry of a target that checks the Lua property `source`
 * (chunk name `name`) on every input, in one state made on the first call. */
#define FUZZ_LUA_PROPERTY_TARGET(name, source)                                  \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {              \
        static lua_State *L;                                                    \
        static int property;                                                    \
        if (!L) {                                                               \
            L = fuzz_new_state(fuzz_check_float);                               \
            property = fuzz_load_property(L, name, source);                     \
        }                                                                       \
        fuzz_run_property(L, property, data, size);                             \
        return 0;                                                               \
    }

#endif
