-- wrk: GET the newest page of 10 orders of a fixture user (each has at
-- least 10), each request the next user; with ACCEPT_ENCODING (e.g. gzip)
-- every request sends it as Accept-Encoding (bench/run's list-gzip).
--   wrk ... -s bench/list.lua URL -- FIXTURES [ACCEPT_ENCODING]
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

function init(args)
  local accept_encoding = args[2]
  next_req = common.cycle(common.map(common.users(common.load_fixtures(args[1])),
    function(user) return common.list(user, accept_encoding) end))
end

function request()
  return next_req()
end
