/* Error codes (shim.c code_length, sandbox_error, call_msgh): a script
 * raises a message or an error table of its choosing; the host must get
 * ST_RUNTIME_CODE with "code\n..." exactly when the raised value carries a
 * code ([a-z_]+ before ':' or the end, under 64 bytes; a table's `code`
 * field whole), and ST_RUNTIME otherwise. Input: mode byte, level byte, the
 * message. */
#include "shim_host.h"

static const char PLUGIN[] =
    "return { raise = function(self, mode, level, v)\n"
    "  if mode == 0 then error(v, level)\n"
    "  elseif mode == 1 then error({ code = v, message = 'm' })\n"
    "  elseif mode == 2 then error({ code = v })\n"
    "  elseif mode == 3 then local ok, e = pcall(error, v, 0); error(e, 0)\n"
    "  elseif mode == 4 then pcall(error, v); error('A plain message')\n"
    "  else error(v) end\n"
    "end }\n";

/* The code the reference expects from `s`, as shim.c documents it. */
static size_t ref_code(const uint8_t *s, size_t n, int whole) {
    size_t i = 0;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) i++;
    if (i == 0 || i >= 64) return 0;
    if (whole) return i == n ? i : 0;
    return i == n || s[i] == ':' ? i : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int started;
    if (!started) {
        shim_start(PLUGIN);
        started = 1;
    }
    if (size < 2) return 0;
    int mode = data[0] % 6, level = data[1] % 4;
    const uint8_t *msg = data + 2;
    size_t msg_len = size - 2;
    /* args: mode, level, message */
    uint8_t *args = malloc(9 + 9 + 5 + msg_len);
    int64_t m = mode, l = level;
    uint32_t n32 = (uint32_t)msg_len;
    args[0] = 'i', memcpy(args + 1, &m, 8);
    args[9] = 'i', memcpy(args + 10, &l, 8);
    args[18] = 's', memcpy(args + 19, &n32, 4), memcpy(args + 23, msg, msg_len);
    int32_t status = shim_call("raise", args, 23 + msg_len);
    free(args);
    size_t len;
    const char *got = shim_result(&len);
    size_t code = mode == 4 ? 0 : ref_code(msg, msg_len, mode == 1 || mode == 2);
    if (code) {
        if (status != ST_RUNTIME_CODE || len < code + 1 || memcmp(got, msg, code) != 0 || got[code] != '\n') {
            fprintf(stderr, "mode %d status %d: %.*s\n", mode, status, (int)len, got);
            fuzz_abort("a coded error did not report its code");
        }
    } else if (status != ST_RUNTIME) {
        fprintf(stderr, "mode %d status %d: %.*s\n", mode, status, (int)len, got);
        fuzz_abort("an error without a code reported one");
    }
    return 0;
}
