/* bext.shared's reply decoding (shim.c shared_op): the host encodes values
 * scripts stored, so a reply's bytes are guest-controlled. The first input
 * byte picks the operation (get, or keys, which builds a table) and whether
 * the reply is an error; the rest is the reply, small (in the shim's
 * buffer) or large (fetched with shared_take). */
#include "shim_host.h"

static const char PLUGIN[] = PACK_LUA
    "return {\n"
    "  get = function(self) return pack(bext.shared.get('k')) end,\n"
    "  keys = function(self) local t = bext.shared:keys(); return pack(table.unpack(t, 1, #t)) end,\n"
    "}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int started;
    static uint8_t *want;
    if (!started) {
        shim_start(PLUGIN);
        started = 1;
    }
    if (size == 0) return 0;
    uint8_t flags = data[0];
    shared_stub.reply = data + 1;
    shared_stub.len = size - 1;
    shared_stub.is_error = flags & 1;
    shared_stub.pending = 0;
    shared_stub.calls = 0;
    int keys = (flags & 2) != 0;
    int32_t status = shim_call(keys ? "keys" : "get", NULL, 0);
    size_t len;
    const char *got = shim_result(&len);
    if (shared_stub.calls != 1 || shared_stub.pending) fuzz_abort("the reply was not fetched exactly once");
    if (shared_stub.is_error) {
        /* The message is raised as it is; the traceback follows it. */
        if (status != ST_RUNTIME || len < shared_stub.len || memcmp(got, shared_stub.reply, shared_stub.len) != 0)
            fuzz_abort("an error reply was not raised as its message");
        return 0;
    }
    want = realloc(want, size);
    long want_len = ref_args(shared_stub.reply, shared_stub.len, want);
    if (want_len < 0) {
        if (status != ST_RUNTIME || !strstr(got, "bad argument encoding"))
            fuzz_abort("a malformed reply was not rejected");
    } else if (status != ST_OK) {
        fprintf(stderr, "status %d: %.*s\n", status, (int)len, got);
        fuzz_abort("a well-formed reply failed");
    } else if (!keys && (len != (size_t)want_len || memcmp(got, want, len) != 0)) {
        fuzz_abort("the script got other values than the reply held");
    }
    return 0;
}
