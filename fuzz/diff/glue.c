/* The differential oracle's view of bext.json (fuzz/src/bin/json-diff.rs):
 * decode a text natively and give back its canonical form (fuzz_lua.h), or
 * the error message, plus each float with the text encode writes for it. */
#include "fuzz_lua.h"

static lua_State *L;
static char *floats_text;
static size_t floats_len;

/* check_float for the oracle: records "<bits hex> <text>\n". */
static int record_float(lua_State *L) {
    double x = luaL_checknumber(L, 1);
    size_t n;
    const char *text = luaL_checklstring(L, 2, &n);
    uint64_t bits;
    memcpy(&bits, &x, 8);
    char head[20];
    snprintf(head, sizeof head, "%016llx ", (unsigned long long)bits);
    size_t need = floats_len + 17 + n + 1;
    floats_text = realloc(floats_text, need);
    if (!floats_text) abort();
    memcpy(floats_text + floats_len, head, 17);
    memcpy(floats_text + floats_len + 17, text, n);
    floats_text[need - 1] = '\n';
    floats_len = need;
    return 0;
}

static int decode_canon(lua_State *L) {
    lua_getglobal(L, "canon");
    lua_getglobal(L, "json");
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    lua_call(L, 1, 1);
    return 1;
}

/* Returns 1 and the canonical form, or 0 and the decoder's error message.
 * `out` and `float_list` stay valid until the next call. */
int bext_fuzz_decode(const char *text, size_t len, const char **out, size_t *out_len, const char **float_list,
                     size_t *float_list_len) {
    if (!L) L = fuzz_new_state(record_float);
    lua_settop(L, 0);
    floats_len = 0;
    lua_pushcfunction(L, decode_canon);
    lua_pushlstring(L, text, len);
    int ok = lua_pcall(L, 1, 1, 0) == LUA_OK;
    *out = lua_tolstring(L, -1, out_len);
    if (!*out) *out = "(error object is not a string)", *out_len = strlen(*out);
    *float_list = floats_text ? floats_text : "";
    *float_list_len = floats_len;
    return ok;
}
