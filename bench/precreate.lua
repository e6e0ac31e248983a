-- wrk, before a measurement: creates COUNT orders for the users
-- PREFIX0 .. PREFIX(USERS-1), in turn, writes "USER ID" of each created
-- order to FILE, then stops and creates FILE.done (wrk itself runs on until
-- -d or SIGINT, which bench/run sends when it sees FILE.done). A failed
-- create stops it too; done() reports it. Run it with one thread (-t1).
--   wrk -t1 ... -s bench/precreate.lua URL -- FILE PREFIX USERS COUNT
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
setup, done = common.setup, common.done

function init(args)
  path, prefix, users, count = args[1], args[2], tonumber(args[3]), tonumber(args[4])
  out = assert(io.open(path, "w"))
  sent, created = 0, 0
end

function request()
  sent = sent + 1
  return common.create(prefix .. (sent % users))
end

function response(status, headers, body)
  if out == nil then return end
  if status == 201 then
    out:write(body:match('"user_id":"([^"]+)"'), " ", body:match('"id":"([^"]+)"'), "\n")
    created = created + 1
  end
  if status ~= 201 or created >= count then
    out:close()
    out = nil
    assert(io.open(path .. ".done", "w")):close()
    wrk.thread:stop()
  end
end
