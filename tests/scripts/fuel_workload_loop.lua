-- Loops that do nothing, the cheapest instructions there are: what a runaway
-- script spends its budget on (`while true do end` is a bare jump).
return {
  on_request = function(self, ctx)
    for i = 1, 100000 do end
    local n = 0
    while n < 50000 do n = n + 1 end
    return bext.middleware_continue()
  end,
}
