/* bext_load and bext_describe (shim.c load_entry, describe_entry,
 * is_identifier) on a plugin table whose keys come from the input, some on
 * an __index chain (which may loop); the chunk name and config are input
 * bytes too. The summary's first line is the integer priority (or empty),
 * then only identifiers that name functions of the plugin. */
#include "shim_host.h"

static const char PLUGIN[] =
    "local cfg = bext.get_config()\n"
    "local t, base = {}, {}\n"
    "local i = 0\n"
    "for key in cfg:gmatch('[^\\0]+') do\n"
    "  i = i + 1\n"
    "  local target = i % 3 == 0 and base or t\n"
    "  if i % 5 == 0 then target[key] = 7 else target[key] = function() end end\n"
    "end\n"
    "if #cfg % 2 == 1 then setmetatable(t, { __index = base }) end\n"
    "if #cfg % 4 == 3 then setmetatable(base, { __index = t }) end\n"
    "if #cfg % 3 == 0 then t.priority = #cfg end\n"
    "return t\n";

static int is_ident(const char *s, size_t n) {
    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t name_len = size ? data[0] % 16 : 0;
    if (name_len > size - (size ? 1 : 0)) name_len = size ? size - 1 : 0;
    const char *name = (const char *)data + (size ? 1 : 0);
    const char *config = name + name_len;
    size_t config_len = size - (size ? 1 : 0) - name_len;
    shim_reset();
    int32_t status = shim_load(name, name_len, config, config_len, PLUGIN, sizeof PLUGIN - 1);
    if (status != ST_OK) {
        size_t len;
        const char *got = shim_result(&len);
        fprintf(stderr, "status %d: %.*s\n", status, (int)len, got);
        fuzz_abort("the plugin did not load");
    }
    status = bext_describe();
    size_t len;
    const char *got = shim_result(&len);
    if (status != ST_OK) {
        /* A plugin whose __index chain loops fails as Lua fails on it (the
         * lookup of an absent `priority`): a load error, not a crash. */
        if (status == ST_RUNTIME && config_len % 4 == 3 && strstr(got, "'__index' chain too long")) return 0;
        fprintf(stderr, "describe: %.*s\n", (int)len, got);
        fuzz_abort("describe failed");
    }
    const char *line = memchr(got, '\n', len), *end = got + len;
    for (const char *p = got; p < (line ? line : end); p++)
        if (!(*p >= '0' && *p <= '9')) fuzz_abort("the priority line is not an integer");
    while (line) {
        const char *start = line + 1;
        line = memchr(start, '\n', (size_t)(end - start));
        size_t n = (size_t)((line ? line : end) - start);
        if (!is_ident(start, n)) fuzz_abort("the summary lists a method that is not an identifier");
    }
    return 0;
}
