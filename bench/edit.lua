-- wrk: edit the pending orders of FIXTURES, round after round: each request
-- sets line l1's quantity (1 to 3, in turn) with POST .../edit, a durable
-- change like a cancel, but one an order can take again and again.
-- Thread T of N takes lines T, T+N, ...
--   wrk ... -s bench/edit.lua URL -- FIXTURES NTHREADS
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

function init(args)
  local all, n = common.load_fixtures(args[1]), tonumber(args[2])
  rows, i = {}, 0
  for k = tid, #all, n do
    local r = all[k]
    for q = 1, 3 do
      rows[#rows + 1] = wrk.format("POST", "/api/orders/" .. r[2] .. "/edit",
        {["X-User-Id"] = r[1], ["Content-Type"] = "application/json"},
        '{"operations":[{"op":"set_quantity","line_id":"l1","quantity":' .. q .. '}]}')
    end
  end
end

function request()
  i = i + 1
  if i > #rows then i = 1 end
  return rows[i]
end
