-- Shared by the bench's wrk scripts (bench/run, bench/durable.sh): the seed
-- order body, the fixtures file, and a done() that prints one
-- machine-readable line. Load it with
--   local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local common = {}
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"

local f = assert(io.open(dir .. "order.json"))
common.order = f:read("*a"):gsub("%s+$", "")
f:close()

-- setup() runs in wrk's main Lua state, once per thread, before that
-- thread's init(): it numbers the threads (global tid in each) and keeps
-- them for done().
local threads = {}
function common.setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Lines "USER ID" written by precreate.lua, as a list of {user, id}.
function common.load_fixtures(path)
  local rows = {}
  for line in io.lines(path) do
    local user, id = line:match("^(%S+) (%S+)$")
    if user then rows[#rows + 1] = {user, id} end
  end
  assert(#rows > 0, "no fixtures in " .. path)
  return rows
end

-- A function that returns the next element of list on each call, going
-- round; each thread starts at another place.
function common.cycle(list)
  local i = tid * 7919
  return function()
    i = i + 1
    return list[i % #list + 1]
  end
end

-- fn applied to each element of list. The scripts format every request
-- once, in init(): the client shares the machine with the server, and
-- formatting in request() cost about a fifth of the client's CPU.
function common.map(list, fn)
  local out = {}
  for i, v in ipairs(list) do out[i] = fn(v) end
  return out
end

-- The distinct users of fixture rows, in order of appearance.
function common.users(rows)
  local users, seen = {}, {}
  for _, r in ipairs(rows) do
    if not seen[r[1]] then seen[r[1]] = true; users[#users + 1] = r[1] end
  end
  return users
end

-- The requests, from a fixture row {user, id} or a user.
function common.get(row)
  return wrk.format("GET", "/api/orders/" .. row[2], {["X-User-Id"] = row[1]})
end

-- accept_encoding: an Accept-Encoding value to send (nil: none, as wrk sends)
function common.list(user, accept_encoding)
  return wrk.format("GET", "/api/orders?limit=10", {["X-User-Id"] = user, ["Accept-Encoding"] = accept_encoding})
end

function common.create(user)
  return wrk.format("POST", "/api/orders",
    {["Content-Type"] = "application/json", ["X-User-Id"] = user}, common.order)
end

-- One line for bench/run: throughput, latency percentiles (microseconds)
-- and every kind of failure. ran_out counts threads that used up their
-- fixtures (cancel.lua) and stopped early.
function common.done(summary, latency, requests)
  local e = summary.errors
  local ran_out = 0
  for _, t in ipairs(threads) do ran_out = ran_out + (t:get("ran_out") or 0) end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.2f p50_us=%d p99_us=%d p999_us=%d max_us=%d non2xx=%d socket_errors=%d ran_out=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, ran_out))
end

return common
