-- Deep nesting through C functions: each level is one of Lua's 200 C calls
-- (LUAI_MAXCCALLS). Path /KIND/N nests N levels of KIND and responds with
-- "ok" or the Lua error message; the sandbox must raise Lua's catchable
-- "C stack overflow", never trap.
local function gsub_depth(n)
  if n == 0 then return "x" end
  return (("a"):gsub("a", function() return gsub_depth(n - 1) end))
end

local function pcall_depth(n)
  if n == 0 then return "bottom" end
  local ok, err = pcall(pcall_depth, n - 1)
  if not ok then error(err, 0) end
  return err
end

local function parser_depth(n)
  local f, err = load("return " .. string.rep("(", n) .. "1" .. string.rep(")", n))
  if not f then error(err, 0) end
  return f()
end

local mt = {}
mt.__index = function(t, k)
  if k == 0 then return "end" end
  return setmetatable({}, mt)[k - 1]
end
local function index_depth(n) return setmetatable({}, mt)[n] end

local kinds = { gsub = gsub_depth, pcall = pcall_depth, parser = parser_depth, index = index_depth }

return {
  on_request = function(self, ctx_json)
    local kind, n = ctx_json:match('"path":"/(%a+)/(%d+)"')
    local ok, err = pcall(kinds[kind], tonumber(n))
    local body = ok and "ok" or tostring(err):gsub('[\\"%c]', "")
    return bext.middleware_respond('{"status":200,"body":"' .. body .. '"}')
  end,
}
