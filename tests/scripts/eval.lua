-- A test harness as a transform plugin: `transform` runs the Lua chunk it
-- gets as the source and returns tostring() of the chunk's result.
return {
  matches = function(self, path, source) return true end,
  transform = function(self, source, path, ctx_json)
    local chunk = assert(load(source, "=" .. path))
    return tostring(chunk())
  end,
}
