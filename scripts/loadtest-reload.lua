-- wrk script for scripts/loadtest's reload run: counts responses that are
-- not 200 and responses served by no version or by a broken version (their
-- x-script-version starts with "broken"), and lists the versions seen.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failed, broken, unversioned, seen = 0, 0, 0, ","
end

function response(status, headers, body)
  if status ~= 200 then failed = failed + 1 end
  local version = headers["x-script-version"]
  if version == nil then
    unversioned = unversioned + 1
  elseif version:find("broken", 1, true) then
    broken = broken + 1
  elseif not seen:find("," .. version .. ",", 1, true) then
    seen = seen .. version .. ","
  end
end

function done(summary, latency, requests)
  local failed_total, broken_total, unversioned_total, versions = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    failed_total = failed_total + thread:get("failed")
    broken_total = broken_total + thread:get("broken")
    unversioned_total = unversioned_total + thread:get("unversioned")
    for version in thread:get("seen"):gmatch("[^,]+") do versions[version] = true end
  end
  local distinct = 0
  for _ in pairs(versions) do distinct = distinct + 1 end
  io.write(string.format("reload-check: failed=%d broken=%d unversioned=%d versions=%d\n",
    failed_total, broken_total, unversioned_total, distinct))
end
