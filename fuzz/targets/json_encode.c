/* bext.json.encode on Lua values built from the input: every scalar type,
 * floats from raw bits (NaN, infinities, subnormals, -0.0), strings with
 * invalid UTF-8, marked and unmarked tables, sparse arrays, mixed and
 * colliding keys, cycles, functions and deep nesting. Encode either raises
 * a "bext.json.encode: ..." error or writes text that decode accepts and
 * that decodes to what README's mapping promises (checked against a model
 * of the mapping); every float in it is in its shortest form. */
#include "fuzz_lua.h"

static const char PROPERTY[] =
    "local array_mt = getmetatable(json.array())\n"
    "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end\n"
    /* The canonical form of what decode(encode(v)) must give, or nil when
     * it depends on iteration order (two keys writing the same name). */
    "local model\n"
    "function model(v)\n"
    "  if v == nil or v == json.null then return 'n' end\n"
    "  if type(v) ~= 'table' then return canon(v) end\n"
    "  local max, count, positive = 0, 0, true\n"
    "  for k in pairs(v) do\n"
    "    count = count + 1\n"
    "    if math.type(k) == 'integer' and k >= 1 then max = math.max(max, k) else positive = false end\n"
    "  end\n"
    "  if getmetatable(v) == array_mt or (count > 0 and positive) then\n"
    "    local parts = {}\n"
    "    for i = 1, max do parts[i] = model(v[i]); if not parts[i] then return nil end end\n"
    "    return '[' .. table.concat(parts, ',') .. ']'\n"
    "  end\n"
    "  local names, parts = {}, {}\n"
    "  for k, x in pairs(v) do\n"
    "    local name = type(k) == 'string' and k or math.type(k) == 'integer' and string.format('%d', k) or json.encode(k)\n"
    "    if parts[name] then return nil end\n"
    "    parts[name] = model(x)\n"
    "    if not parts[name] then return nil end\n"
    "    names[#names + 1] = name\n"
    "  end\n"
    "  table.sort(names)\n"
    "  local out = {}\n"
    "  for i, name in ipairs(names) do out[i] = 's' .. hex(name) .. ':' .. parts[name] end\n"
    "  return '{' .. table.concat(out, ',') .. '}'\n"
    "end\n"
    "return function(data)\n"
    "  local pos = 1\n"
    "  local function byte() local b = data:byte(pos) or 0; pos = pos + 1; return b end\n"
    "  local function take(n) local s = data:sub(pos, pos + n - 1); pos = pos + n; return s .. string.rep('\\0', n - #s) end\n"
    "  local ancestors = {}\n"
    "  local value\n"
    "  local function key(i)\n"
    "    local m = byte() % 8\n"
    "    if m <= 2 then return i\n"
    "    elseif m == 3 then return (string.unpack('<i2', take(2)))\n"
    "    elseif m == 4 then return take(byte() % 6)\n"
    "    elseif m == 5 then local f = string.unpack('<d', take(8)); if f ~= f then return 0.25 end; return f\n"
    "    elseif m == 6 then return byte() % 2 == 0\n"
    "    else return i + 0.5 end\n"
    "  end\n"
    "  function value(depth)\n"
    "    local op = byte() % 14\n"
    "    if op == 0 then return nil\n"
    "    elseif op == 1 then return byte() % 2 == 0\n"
    "    elseif op == 2 then return (string.unpack('<i8', take(8)))\n"
    "    elseif op == 3 then return (string.unpack('<d', take(8)))\n"
    "    elseif op == 4 then return string.unpack('<i2', take(2)) / (1 << (byte() % 24))\n"
    "    elseif op == 5 then return take(byte() % 12)\n"
    "    elseif op == 6 then return json.null\n"
    "    elseif op == 7 then return ancestors[#ancestors - byte() % (#ancestors + 1)]\n"
    "    elseif op == 8 then return print\n"
    "    elseif op == 9 then\n"
    "      local v = value(depth + 1)\n"
    "      for _ = 1, string.unpack('<I2', take(2)) % 1100 do v = {v} end\n"
    "      return v\n"
    "    elseif op == 10 then return (string.unpack('<d', take(6) .. '\\0' .. string.char(byte() % 2 * 128)))\n"
    "    elseif depth >= 24 then return 0\n"
    "    end\n"
    "    local t = {}\n"
    "    ancestors[#ancestors + 1] = t\n"
    "    for i = 1, byte() % 12 do t[key(i)] = value(depth + 1) end\n"
    "    if op == 12 then json.array(t) end\n"
    "    if op == 13 then t[byte() * 3] = 1 end\n"
    "    ancestors[#ancestors] = nil\n"
    "    return t\n"
    "  end\n"
    "  local v = value(0)\n"
    "  local ok, text = pcall(json.encode, v)\n"
    "  if not ok then\n"
    "    if type(text) ~= 'string' or not text:find('^bext%.json%.encode: ') then\n"
    "      error('encode raised a foreign error: ' .. tostring(text))\n"
    "    end\n"
    "    return\n"
    "  end\n"
    "  local ok2, v2 = pcall(json.decode, text)\n"
    "  if not ok2 then error('decode rejects what encode wrote: ' .. tostring(v2) .. '\\n' .. text) end\n"
    "  local want, got = model(v), canon(v2)\n"
    "  if want and want ~= got then error('decode(encode(v)) is not what the mapping promises:\\n' .. want .. '\\n' .. got .. '\\n' .. text) end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static lua_State *L;
    static int property;
    if (!L) {
        L = fuzz_new_state(fuzz_check_float);
        property = fuzz_load_property(L, "=json_encode", PROPERTY);
    }
    fuzz_run_property(L, property, data, size);
    return 0;
}
