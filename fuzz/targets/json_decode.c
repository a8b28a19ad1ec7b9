/* bext.json.decode on arbitrary bytes, then the round trip: whatever decode
 * accepts must encode, and decode(encode(v)) must be the same value (same
 * subtypes, floats bit for bit, every float in its shortest form). A
 * rejection must be a "bext.json.decode: ... at position N" error with N
 * inside the input. */
#include "fuzz_lua.h"

static const char PROPERTY[] =
    "return function(text)\n"
    "  local ok, v = pcall(json.decode, text)\n"
    "  if not ok then\n"
    "    if type(v) ~= 'string' or not v:find('^bext%.json%.decode: ') then\n"
    "      error('decode raised a foreign error: ' .. tostring(v))\n"
    "    end\n"
    "    local pos = tonumber(v:match(' at position (%d+)$'))\n"
    "    if not pos or pos < 1 or pos > #text + 1 then error('bad error position: ' .. v) end\n"
    "    return\n"
    "  end\n"
    "  local c1 = canon(v)\n"
    "  local ok2, t2 = pcall(json.encode, v)\n"
    "  if not ok2 then error('a decoded value does not encode: ' .. tostring(t2)) end\n"
    "  local ok3, v2 = pcall(json.decode, t2)\n"
    "  if not ok3 then error('decode rejects what encode wrote: ' .. tostring(v2) .. '\\n' .. t2) end\n"
    "  local c2 = canon(v2)\n"
    "  if c1 ~= c2 then error('the round trip changed the value:\\n' .. c1 .. '\\n' .. c2) end\n"
    "  local t3 = json.encode(v2)\n"
    "  if #t3 ~= #t2 then error('encoding is not a fixed point:\\n' .. t2 .. '\\n' .. t3) end\n"
    "end\n";

FUZZ_LUA_PROPERTY_TARGET("=json_decode", PROPERTY)
