-- bext docs: "Plugin configuration" (get_config), with a cheap substring match.
local config = bext.get_config()
local greeting = config:match('"greeting"%s*:%s*"([^"]*)"') or "hello"
return {
  on_request = function(self, ctx_json)
    local path = ctx_json:match('"path":"([^"]*)"')
    if path == "/greet" then
      return bext.middleware_respond('{"status":200,"body":"' .. greeting .. '"}')
    end
    return bext.middleware_continue()
  end,
}
