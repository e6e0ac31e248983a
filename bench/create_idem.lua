-- wrk: bench/create.lua with a unique Idempotency-Key on every request, so
-- each create also journals and keeps a key (the cost of the feature).
local counter = 0
local body = '{"items":[{"product_id":"123","quantity":2,"price":10.99},' ..
             '{"product_id":"456","quantity":1,"price":19.99}],' ..
             '"shipping_address":"123 Main St, Anytown, USA","payment_method":"credit_card"}'

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  conn = 0
  stamp = os.time()
end

function request()
  conn = conn + 1
  local user = string.format("bench-%d-%d", tid, conn % 64)
  return wrk.format("POST", "/api/orders", {
    ["Content-Type"] = "application/json",
    ["X-User-Id"] = user,
    ["Idempotency-Key"] = string.format("checkout-%d-%d-%d", stamp, tid, conn),
  }, body)
end
