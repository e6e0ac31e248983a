-- wrk: 80 % reads, 20 % writes. In every 10 requests: 2 creates, 4 GETs of
-- one order, 4 pages of 10, over the fixture orders and their users.
--   wrk ... -s bench/mix.lua URL -- FIXTURES
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

local kinds = {"create", "get", "list", "get", "list", "create", "get", "list", "get", "list"}

function init(args)
  local rows = common.load_fixtures(args[1])
  local reqs = {
    create = common.map(rows, function(r) return common.create(r[1]) end),
    get = common.map(rows, common.get),
    list = common.map(rows, function(r) return common.list(r[1]) end),
  }
  local i = tid * 7919
  next_req = function(kind)
    i = i + 1
    return reqs[kind][i % #rows + 1]
  end
  n = 0
end

function request()
  n = n + 1
  return next_req(kinds[n % 10 + 1])
end
