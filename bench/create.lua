-- wrk: POST the seed's order body; each connection is its own user, so
-- orders spread over the store's shards as real checkouts would. The 64
-- requests are formatted once in init(): the client's CPU is shared with the
-- server on a small machine, so request() only picks one.
local counter = 0
local body = '{"items":[{"product_id":"123","quantity":2,"price":10.99},' ..
             '{"product_id":"456","quantity":1,"price":19.99}],' ..
             '"shipping_address":"123 Main St, Anytown, USA","payment_method":"credit_card"}'

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  reqs = {}
  for i = 1, 64 do
    reqs[i] = wrk.format("POST", "/api/orders", {
      ["Content-Type"] = "application/json",
      ["X-User-Id"] = string.format("bench-%d-%d", tid, i - 1),
    }, body)
  end
  conn = 0
end

function request()
  conn = conn % 64 + 1
  return reqs[conn]
end
