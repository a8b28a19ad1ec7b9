/* Definitions behind include/bext_lua_port.h. */
#include <unistd.h>

unsigned int bext_lua_makeseed(void) {
    unsigned int seed = 0;
    /* getentropy is WASI random_get, backed by the host's CSPRNG. If it ever
     * failed we would rather run with a fixed seed than refuse to start. */
    (void)getentropy(&seed, sizeof seed);
    return seed;
}
