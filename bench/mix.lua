-- wrk: 80 % reads, 20 % writes. In every 10 requests: 2 creates, 4 GETs of
-- one order, 4 pages of 10, over the fixture orders and their users.
--   wrk ... -s bench/mix.lua URL -- FIXTURES
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

local kinds = {"create", "get", "list", "get", "list", "create", "get", "list", "get", "list"}

function init(args)
  next_row = common.cycle(common.load_fixtures(args[1]))
  n = 0
end

function request()
  local r = next_row()
  n = n + 1
  local kind = kinds[n % 10 + 1]
  if kind == "create" then return common.create(r[1]) end
  if kind == "get" then return common.get(r) end
  return common.list(r[1])
end
