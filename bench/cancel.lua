-- wrk: cancel each pending order of FIXTURES once. Thread T of N takes
-- lines T, T+N, ... With WRAP=1 (against bench/limit, where nothing is
-- cancelled) the lines are reused; otherwise a thread that has used up its
-- lines stops and done() reports ran_out, which makes the run invalid.
--   wrk ... -s bench/cancel.lua URL -- FIXTURES NTHREADS WRAP
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

function init(args)
  local all, n = common.load_fixtures(args[1]), tonumber(args[2])
  rows, wrap, i, ran_out = {}, args[3] == "1", 0, 0
  for k = tid, #all, n do
    local r = all[k]
    rows[#rows + 1] = wrk.format("POST", "/api/orders/" .. r[2] .. "/cancel", {["X-User-Id"] = r[1]})
  end
end

function request()
  i = i + 1
  if i > #rows then
    if not wrap then
      ran_out = 1
      wrk.thread:stop()
    end
    i = 1
  end
  return rows[i]
end
