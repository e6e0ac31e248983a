-- wrk: POST the seed's order body (bench/order.json); each connection is
-- its own user, so orders spread over the store's shards as real checkouts
-- would.
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

function init(args)
  conn = 0
end

function request()
  conn = conn + 1
  return common.create(string.format("bench-%d-%d", tid, conn % 64))
end
