// The whole checkout flow through the client generated from docs/openapi.yaml
// (openapi-typescript types, openapi-fetch calls): create, get, list with
// every filter, cancel, idempotent retries, conditional requests, the
// operator's transitions and queue, the audit trail.
//
//   node flow.js BASE_URL OPERATOR_TOKEN RESPONSE_LOG
//
// Starts nothing: tests/client/run_test.py starts orderd and passes its URL and
// the operator's token. Every response is appended to RESPONSE_LOG (one JSON
// object a line) for run_test.py to check against the contract: a status the
// spec does not list for the operation, or a body its schema does not
// describe, fails the test. Exits 1 on the first failed expectation; the
// last line on success is `flow: N requests as expected`.
import { appendFileSync } from "node:fs";
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./orderd.js";

type Order = components["schemas"]["Order"];
type Problem = components["schemas"]["Problem"];
type NewOrder = components["schemas"]["CreateOrderRequest"];

const [baseUrl, token, logPath] = process.argv.slice(2);
if (!baseUrl || !token || !logPath) {
  console.error("usage: node flow.js BASE_URL OPERATOR_TOKEN RESPONSE_LOG");
  process.exit(2);
}

let requests = 0;
const recorder: Middleware = {
  async onResponse({ request, response }) {
    requests++;
    const url = new URL(request.url);
    appendFileSync(logPath, JSON.stringify({
      method: request.method,
      path: url.pathname + url.search,
      status: response.status,
      content_type: response.headers.get("content-type"),
      body: await response.clone().text(),
    }) + "\n");
  },
};

function connect(headers: Record<string, string>): Client<paths> {
  const client = createClient<paths>({ baseUrl, headers });
  client.use(recorder);
  return client;
}

class FlowFailure extends Error {}

function ensure(cond: boolean, what: string): asserts cond {
  if (!cond) throw new FlowFailure(what);
}

function ensureEq<T>(got: T, want: T, what: string): void {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  ensure(g === w, `${what}: expected ${w}, got ${g}`);
}

interface Answer<D, E> { data?: D; error?: E; response: Response }

/** The body of a success answer with this status. */
function ok<D, E>(r: Answer<D, E>, status: number, what: string): D {
  ensure(r.response.status === status && r.data !== undefined,
         `${what}: expected ${status}, got ${r.response.status} ${JSON.stringify(r.error)}`);
  return r.data;
}

/** The problem document of an error answer with this status and slug. */
function problem<D, E extends Problem>(r: Answer<D, E>, status: number, slug: string, what: string): E {
  ensure(r.response.status === status && r.error !== undefined,
         `${what}: expected ${status}, got ${r.response.status} ${JSON.stringify(r.data)}`);
  ensureEq(r.error.type, `urn:orderd:problem:${slug}`, `${what}: problem type`);
  ensureEq(r.error.status, status, `${what}: problem status`);
  ensure(r.error.instance === r.response.headers.get("x-request-id"), `${what}: instance is the X-Request-Id`);
  return r.error;
}

const etag = (o: Order) => `"${o.id}-${o.version}"`;
const ids = (orders: Order[]) => orders.map((o) => o.id);

function order(n: number): NewOrder {
  return {
    items: [{ product_id: `sku-${n}`, quantity: 2, price: 10.99 }, { product_id: "gift", quantity: 1, price: 0 }],
    shipping_address: `${n} Main St`,
    payment_method: "card",
    currency: "EUR",
  };
}

const user = "flow.alice";
const alice = connect({ "X-User-Id": user });
const bob = connect({ "X-User-Id": "flow.bob" });
const operator = connect({ Authorization: `Bearer ${token}` });

async function create(n: number): Promise<Order> {
  const r = await alice.POST("/api/orders", { body: order(n) });
  const o = ok(r, 201, `create ${n}`);
  ensureEq(r.response.headers.get("location"), `/api/orders/${o.id}`, "Location");
  ensureEq(r.response.headers.get("etag"), etag(o), "ETag of a new order");
  return o;
}

async function createAndGet(): Promise<Order> {
  const o = await create(1);
  ensureEq([o.user_id, o.status, o.version, o.total, o.currency], [user, "pending", 1, 21.98, "EUR"], "new order");
  ensureEq(
    o.items.map((it) => ({ product_id: it.product_id, quantity: it.quantity, price: it.price })),
    order(1).items,
    "items as sent",
  );
  ensureEq(
    o.items.map((it) => [it.line_id, it.cancelled_quantity, it.shipped_quantity, it.returned_quantity]),
    order(1).items.map((_, i) => [`l${i + 1}`, 0, 0, 0]),
    "lines of a new order",
  );
  const alias = ok(await alice.POST("/api/orders/create", { body: order(2) }), 201, "create (alias)");
  ensure(alias.id > o.id, "ids sort by creation");
  const got = ok(await alice.GET("/api/orders/{id}", { params: { path: { id: o.id } } }), 200, "get");
  ensureEq(got, o, "get answers the order as created");
  problem(await bob.GET("/api/orders/{id}", { params: { path: { id: o.id } } }), 404, "not-found",
          "another user's order");
  problem(await alice.POST("/api/orders", { body: { ...order(3), items: [] } }), 422, "validation-failed",
          "an order without items");
  return o;
}

async function conditional(o: Order): Promise<void> {
  const path = { id: o.id };
  const r = await alice.GET("/api/orders/{id}", { params: { path, header: { "If-None-Match": etag(o) } } });
  ensureEq([r.response.status, r.response.headers.get("etag")], [304, etag(o)], "If-None-Match: current tag");
  ok(await alice.GET("/api/orders/{id}", { params: { path, header: { "If-None-Match": `"${o.id}-9"` } } }),
     200, "If-None-Match: another tag");
  const stale = await alice.POST("/api/orders/{id}/cancel", { params: { path, header: { "If-Match": `"${o.id}-9"` } } });
  problem(stale, 412, "precondition-failed", "cancel with a stale If-Match");
  ensureEq(stale.response.headers.get("etag"), etag(o), "412 names the current tag");
}

async function cancel(o: Order): Promise<void> {
  const path = { id: o.id };
  const header = { "If-Match": etag(o), "Idempotency-Key": `cancel-${o.id}` };
  const c = ok(await alice.POST("/api/orders/{id}/cancel", { params: { path, header } }), 200, "cancel");
  ensureEq([c.status, c.version], ["cancelled", 2], "cancelled order");
  const replay = await alice.POST("/api/orders/{id}/cancel", { params: { path, header } });
  ensureEq(ok(replay, 200, "cancel replayed"), c, "replayed cancel");
  ensureEq(replay.response.headers.get("idempotent-replayed"), "true", "Idempotent-Replayed on the cancel");
  ensureEq(ok(await alice.POST("/api/orders/{id}/cancel", { params: { path } }), 200, "cancel again"), c,
           "a second cancel changes nothing");
}

async function idempotentRetry(): Promise<void> {
  const header = { "Idempotency-Key": "checkout-7f3a" };
  const first = await alice.POST("/api/orders", { body: order(4), params: { header } });
  const again = await alice.POST("/api/orders", { body: order(4), params: { header } });
  ensureEq(ok(again, 201, "retried create"), ok(first, 201, "keyed create"), "the retry answers the first order");
  ensureEq([first.response.headers.get("idempotent-replayed"), again.response.headers.get("idempotent-replayed")],
           [null, "true"], "Idempotent-Replayed");
  problem(await alice.POST("/api/orders", { body: order(5), params: { header } }), 422, "validation-failed",
          "the key with another body");
}

async function lists(): Promise<void> {
  const all = ok(await alice.GET("/api/orders", { params: { query: { limit: 100 } } }), 200, "list");
  const newest = ids(all.orders);
  ensureEq([newest.length, all.total, all.offset, all.limit], [4, 4, 0, 100], "the whole list");
  const page = async (query: paths["/api/orders"]["get"]["parameters"]["query"], what: string) => {
    const r = await alice.GET("/api/orders", { params: { query } });
    return { page: ok(r, 200, what), link: r.response.headers.get("link") ?? "" };
  };
  const first = await page({ limit: 2 }, "limit");
  ensureEq(ids(first.page.orders), newest.slice(0, 2), "first page");
  ensure(first.link.includes('rel="next"') && !first.link.includes('rel="prev"'), `Link of the first page: ${first.link}`);
  const second = await page({ limit: 2, offset: 2 }, "offset");
  ensureEq([ids(second.page.orders), second.page.offset], [newest.slice(2, 4), 2], "offset page");
  ensure(second.link.includes('rel="prev"') && !second.link.includes('rel="next"'), `Link of the last page: ${second.link}`);
  const after = await page({ limit: 1, after: newest[1] }, "after");
  ensureEq([ids(after.page.orders), after.page.offset], [newest.slice(2, 3), 2], "after cursor");
  ensure(after.link.includes("after=") && after.link.includes("before="), `cursor links: ${after.link}`);
  const before = await page({ limit: 2, before: newest[3] }, "before");
  ensureEq(ids(before.page.orders), newest.slice(1, 3), "before cursor");
  const pending = await page({ status: "pending" }, "status");
  ensureEq(pending.page.orders.map((o) => o.status), ["pending", "pending", "pending"], "pending only");
  const some = await page({ status: "cancelled,processing", limit: 1 }, "status list");
  ensureEq([some.page.total, some.page.orders[0]?.status], [1, "cancelled"], "cancelled,processing");
  problem(await alice.GET("/api/orders", { params: { query: { offset: 1, after: newest[0] } } }), 400,
          "malformed-request", "offset with after");
}

async function fulfilment(): Promise<Order> {
  const o = await create(6);
  let cur = o;
  for (const status of ["processing", "shipped", "delivered"] as const) {
    const r = await operator.POST("/api/orders/{id}/status", {
      params: { path: { id: o.id }, header: { "If-Match": etag(cur) } }, body: { status } });
    const next = ok(r, 200, `operator: ${status}`);
    ensureEq([next.status, next.version, r.response.headers.get("etag")], [status, cur.version + 1, etag(next)],
             `the order once ${status}`);
    cur = next;
  }
  ensureEq(cur.version, 4, "version after three steps");
  const back = await operator.POST("/api/orders/{id}/status", { params: { path: { id: o.id } }, body: { status: "shipped" } });
  ensure(problem(back, 409, "invalid-transition", "a step back").detail.includes("delivered"), "409 names the status");
  problem(await alice.POST("/api/orders/{id}/cancel", { params: { path: { id: o.id } } }), 409, "invalid-transition",
          "cancel of a delivered order");
  problem(await alice.POST("/api/orders/{id}/status", { params: { path: { id: o.id } }, body: { status: "shipped" } }),
          401, "unauthorized", "a user moving an order");
  const intruder = connect({ Authorization: "Bearer not-the-operator-token" });
  problem(await intruder.GET("/api/admin/orders"), 403, "forbidden", "a wrong token");
  const queue = ok(await operator.GET("/api/admin/orders", { params: { query: { status: "pending", limit: 100 } } }),
                   200, "the operator's queue");
  const pending = ok(await alice.GET("/api/orders", { params: { query: { status: "pending" } } }), 200, "pending");
  ensureEq(ids(queue.orders.filter((q) => q.user_id === user)), ids(pending.orders).reverse(),
           "the queue holds alice's pending orders, oldest first");
  return cur;
}

async function auditTrail(o: Order): Promise<void> {
  const trail = ok(await alice.GET("/api/orders/{id}/events", { params: { path: { id: o.id } } }), 200, "events");
  ensureEq(trail.events.map((e) => [e.seq, e.type, e.status, e.actor]), [
    [1, "created", "pending", `user:${user}`],
    [2, "status_changed", "processing", "operator"],
    [3, "status_changed", "shipped", "operator"],
    [4, "status_changed", "delivered", "operator"],
  ], "the audit trail");
  const times = trail.events.map((e) => e.at);
  ensureEq(times, [...times].sort(), "events oldest first");
}

try {
  const o = await createAndGet();
  await conditional(o);
  await idempotentRetry();
  await create(7);
  await cancel(o);
  await lists();
  await auditTrail(await fulfilment());
  console.log(`flow: ${requests} requests as expected`);
} catch (e) {
  console.error(`flow: FAILED: ${e instanceof FlowFailure ? e.message : String(e)}`);
  process.exit(1);
}
