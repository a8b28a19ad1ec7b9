/* bext_call's argument decoding (shim.c push_args) on arbitrary bytes,
 * through the export the host calls. The plugin re-encodes what it
 * received; that must equal a reference decoding of the input, and
 * malformed input must be a Lua error ("bad argument encoding"), never a
 * read past the buffer. */
#include "shim_host.h"

static const char PLUGIN[] = PACK_LUA "return { echo = function(self, ...) return pack(...) end }\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int started;
    static uint8_t *want;
    if (!started) {
        shim_start(PLUGIN);
        started = 1;
    }
    want = realloc(want, size + 1);
    long want_len = ref_args(data, size, want);
    int32_t status = shim_call("echo", data, size);
    size_t len;
    const char *got = shim_result(&len);
    if (want_len < 0) {
        if (status != ST_RUNTIME || !strstr(got, "bad argument encoding")) {
            fprintf(stderr, "status %d: %.*s\n", status, (int)len, got);
            fuzz_abort("malformed arguments were not rejected");
        }
    } else if (status != ST_OK) {
        fprintf(stderr, "status %d: %.*s\n", status, (int)len, got);
        fuzz_abort("well-formed arguments failed");
    } else if (len != (size_t)want_len || memcmp(got, want, len) != 0) {
        fuzz_abort("the plugin received other arguments than were sent");
    }
    return 0;
}
