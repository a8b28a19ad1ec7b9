-- A source transform: replaces `process.env.NODE_ENV` and
-- `process.env.NEXT_PUBLIC_*` in JavaScript and TypeScript files with the
-- build's values (from the TransformContext), as JSON string literals.
-- Variables the build does not define are left as they are.
local EXTENSIONS = { js = true, jsx = true, mjs = true, ts = true, tsx = true }

return {
  priority = 1100,

  matches = function(self, path, source)
    local ext = path:match("%.(%w+)$")
    return EXTENSIONS[ext] == true
      and not ("/" .. path):find("/node_modules/", 1, true)
      and source:find("process.env.", 1, true) ~= nil
  end,

  transform = function(self, source, path, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    local values = { NODE_ENV = ctx.node_env }
    for _, pair in ipairs(ctx.env_vars) do
      values[pair[1]] = pair[2]
    end
    local replaced = 0
    local out = source:gsub("process%.env%.([%a_][%w_]*)", function(name)
      local value = values[name]
      if value == nil then return nil end -- keep the original text
      replaced = replaced + 1
      return bext.json.encode(value)
    end)
    if replaced == 0 then return bext.transform_unchanged() end
    bext.log("debug", string.format("%s: inlined %d env references", path, replaced))
    return out
  end,
}
