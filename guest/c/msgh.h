/* The message handler shared by the plugin shim and the full profile. */
#ifndef BEXT_MSGH_H
#define BEXT_MSGH_H

#include "lua.h"

/* lua_pcall message handler: the error message plus a traceback, as the
 * standalone `lua` interpreter prints it; a non-string error object is
 * described by its __tostring or its type. Defined in shim.c. */
int bext_msgh(lua_State *L);

#endif
