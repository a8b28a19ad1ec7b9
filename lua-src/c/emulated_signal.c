/* lua-src's WASI recipe compiles Lua with _WASI_EMULATED_SIGNAL and asks to
 * link `wasi-emulated-signal`, which Rust's wasi libc.a does not ship. Only the
 * standalone interpreter (lua.c, not built) installs signal handlers; these
 * stand-ins make any other use fail cleanly instead of failing to link. */
#define _WASI_EMULATED_SIGNAL
#include <errno.h>
#include <signal.h>

void (*signal(int sig, void (*handler)(int)))(int) {
    (void)sig;
    (void)handler;
    errno = ENOTSUP;
    return SIG_ERR;
}

int raise(int sig) {
    (void)sig;
    errno = ENOTSUP;
    return -1;
}
