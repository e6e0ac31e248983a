-- wrk: GET the newest page of 10 orders of a fixture user (each has at
-- least 10), each request the next user.   wrk ... -s bench/list.lua URL -- FIXTURES
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

function init(args)
  next_req = common.cycle(common.map(common.users(common.load_fixtures(args[1])), common.list))
end

function request()
  return next_req()
end
