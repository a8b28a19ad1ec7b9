-- The hello-world middleware from bext's Lua tier documentation, unchanged.
return { on_request = function(self, ctx_json) bext.log("info", "plugin saw: " .. ctx_json:sub(1, 80)); return bext.middleware_continue() end, on_response = function(self, arg) return nil end }
