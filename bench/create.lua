-- wrk: POST the seed's order body (bench/order.json); each connection is
-- its own user, so orders spread over the store's shards as real checkouts
-- would. The 64 requests are formatted once (common.map).
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

function init(args)
  local users = {}
  for i = 1, 64 do users[i] = string.format("bench-%d-%d", tid, i - 1) end
  next_req = common.cycle(common.map(users, common.create))
end

function request()
  return next_req()
end
