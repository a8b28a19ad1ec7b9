-- A mailer (MailerPlugin) that validates messages and keeps an outbox, as a
-- stand-in for a transport. `send_batch` is the trait default (send each).
local outbox, sent = {}, 0
local MAX_OUTBOX = 100

local function valid_address(a)
  return type(a) == "table" and type(a.email) == "string" and a.email:match("^[^@%s]+@[^@%s]+$") ~= nil
end

return {
  send = function(self, msg_json)
    local msg = bext.json.decode(msg_json)
    if not valid_address(msg.from) then error("invalid_message: bad sender", 0) end
    if #msg.to == 0 then error("invalid_message: no recipients", 0) end
    for _, to in ipairs(msg.to) do
      if not valid_address(to) then error("invalid_message: bad recipient", 0) end
      if to.email:match("@blocked%.example$") then error("rejected: " .. to.email .. " does not accept mail", 0) end
    end
    if #outbox >= MAX_OUTBOX then error("rate_limited: outbox full", 0) end
    sent = sent + 1
    outbox[#outbox + 1] = { subject = msg.subject, to = msg.to[1].email }
    return { id = "msg-" .. sent }
  end,
}
