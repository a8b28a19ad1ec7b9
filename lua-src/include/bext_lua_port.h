/* Force-included (`-include`) into every C file of the Lua build.
 *
 * Everything we change about stock Lua goes through this header or compile
 * flags; the Lua sources themselves are compiled unmodified. */
#ifndef BEXT_LUA_PORT_H
#define BEXT_LUA_PORT_H

/* Lua's default string-hash seed mixes time(NULL) (one-second resolution) with
 * addresses, which are identical in every wasm instance of one module: two
 * states created in the same second would share a seed, and a client that can
 * guess it can flood a table's hash chains. Seed from WASI's random_get
 * instead (c/lua_port.c). */
unsigned int bext_lua_makeseed(void);
#define luai_makeseed(L) bext_lua_makeseed()

#endif
