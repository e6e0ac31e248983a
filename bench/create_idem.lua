-- wrk: bench/create.lua with a unique Idempotency-Key on every request, so
-- each create also fingerprints the body, journals a key record and keeps
-- the key (the cost of the feature). Each user's request is formatted once,
-- split around the key's value; request() only joins three strings, so the
-- client (which shares the machine with the server) does about the same
-- work as for create.lua.
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

local MARK = "@KEY@"

function init(args)
  local parts = {}
  for i = 1, 64 do
    local req = wrk.format("POST", "/api/orders",
      {["Content-Type"] = "application/json", ["X-User-Id"] = string.format("bench-%d-%d", tid, i - 1),
       ["Idempotency-Key"] = MARK}, common.order)
    local at = req:find(MARK, 1, true)
    parts[i] = {req:sub(1, at - 1), req:sub(at + #MARK)}
  end
  -- keys must never repeat within a run: thread, a per-run stamp, a counter
  prefix = string.format("co-%d-%d-", tid, os.time())
  n = 0
  part_of = common.cycle(parts)
end

function request()
  n = n + 1
  local p = part_of()
  return p[1] .. prefix .. n .. p[2]
end
