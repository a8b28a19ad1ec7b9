-- bext docs: "Source transforms" (transform_unchanged).
return {
  matches = function(self, path, source)
    return path:match("%.js$") ~= nil
  end,
  transform = function(self, source, path, ctx_json)
    if not source:find("__VERSION__", 1, true) then
      return bext.transform_unchanged()
    end
    return (source:gsub("__VERSION__", "1.2.3"))
  end,
}
