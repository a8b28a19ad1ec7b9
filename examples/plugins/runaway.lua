-- A buggy tenant plugin: one path sends it into an endless loop. The sandbox
-- stops it at its deadline; every other plugin keeps serving.
return {
  priority = 50,
  on_request = function(self, ctx_json)
    if ctx_json:find('"path":"/spin"', 1, true) then
      pcall(function() while true do end end) -- pcall cannot catch the budget stop
    end
    return bext.middleware_continue()
  end,
}
