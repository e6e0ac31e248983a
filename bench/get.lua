-- wrk: GET one order, each request another fixture order, with its owner as
-- X-User-Id.   wrk ... -s bench/get.lua URL -- FIXTURES
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

function init(args)
  next_req = common.cycle(common.map(common.load_fixtures(args[1]), common.get))
end

function request()
  return next_req()
end
