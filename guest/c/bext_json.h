/* bext.json: JSON for plugin scripts, implemented in C (bext_json.c).
 * Only the shim includes this header. */
#ifndef BEXT_JSON_H
#define BEXT_JSON_H

#include "lua.h"

/* Deepest nesting of arrays and objects that encode and decode accept.
 * Both are iterative, so the limit protects the Lua stack and the result's
 * size, not the C stack. */
#define BEXT_JSON_MAX_DEPTH 1000

/* Pushes the `bext.json` table (encode, decode, array, null). Uses 3 stack
 * slots; may raise memory errors, so call it under lua_pcall. */
void bext_json_push_module(lua_State *L);

/* lua_CFunction: encode(value) -> JSON text. Raises a Lua error for values
 * that JSON cannot represent. */
int bext_json_encode(lua_State *L);

#endif
