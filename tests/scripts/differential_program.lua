-- The plugin profile of tests/all/differential.rs: `transform` runs the Lua
-- program it gets as the source (chunk name `stdin`, as `bext-lua run -`
-- and the native baseline name it) with `print` captured, and returns what
-- it printed, bytes outside printable ASCII written `\ddd` (the host API
-- carries UTF-8 text; the test escapes the other sides' output the same
-- way). Globals the program sets land in its own environment, so programs
-- do not see each other.
local function escape(s)
  return (s:gsub("[\0-\8\11-\31\\\127-\255]", function(c)
    return ("\\%03d"):format(c:byte())
  end))
end

return {
  transform = function(self, source, path, ctx_json)
    local out = {}
    local env = setmetatable({}, { __index = _G })
    env.print = function(...)
      local n = select("#", ...)
      for i = 1, n do
        if i > 1 then out[#out + 1] = "\t" end
        out[#out + 1] = tostring((select(i, ...)))
      end
      out[#out + 1] = "\n"
    end
    local chunk, err = load(source, "=stdin", "t", env)
    if not chunk then
      error(err, 0)
    end
    chunk()
    return escape(table.concat(out))
  end,
}
