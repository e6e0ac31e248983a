// A checkout against orderd with the client generated from docs/openapi.yaml:
// create an order, read it back, cancel it. See README, "Generated client".
//
//   node checkout.mjs [BASE_URL] [USER]
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { paths } from "./orderd.js";

const baseUrl = process.argv[2] ?? "http://127.0.0.1:8080";
const orders = createClient<paths>({ baseUrl, headers: { "X-User-Id": process.argv[3] ?? "alice" } });

// The Idempotency-Key makes the create safe to retry: a retry answers the first order.
const created = await orders.POST("/api/orders", {
  params: { header: { "Idempotency-Key": randomUUID() } },
  body: {
    items: [{ product_id: "123", quantity: 2, price: 10.99 }],
    shipping_address: "123 Main St, Anytown, USA",
    payment_method: "credit_card",
  },
});
if (!created.data) throw new Error(`create: ${created.response.status} ${created.error.detail}`);
const { id } = created.data;
console.log(`created ${id}: ${created.data.total} ${created.data.currency}`);

const got = await orders.GET("/api/orders/{id}", { params: { path: { id } } });
if (!got.data) throw new Error(`get: ${got.response.status} ${got.error?.detail}`);
console.log(`${id} is ${got.data.status}`);

// If-Match: cancel only the version just read (412 if it changed meanwhile).
const etag = got.response.headers.get("etag") ?? "*";
const cancelled = await orders.POST("/api/orders/{id}/cancel", { params: { path: { id }, header: { "If-Match": etag } } });
if (!cancelled.data) throw new Error(`cancel: ${cancelled.response.status} ${cancelled.error.detail}`);
console.log(`${id} is ${cancelled.data.status} (version ${cancelled.data.version})`);
