-- A misbehaving tenant: allocates until its sandbox's memory limit on every
-- request. The call fails with a memory-limit trap, the sandbox is replaced,
-- and other tenants' sandboxes never see the pressure.
return {
  on_request = function(self, ctx_json)
    local hoard = {}
    while true do
      hoard[#hoard + 1] = string.rep("x", 65536) .. #hoard
    end
  end,
}
