#ifndef ORDERD_HTTP_DURABLE_H
#define ORDERD_HTTP_DURABLE_H

/*
 * Answering a change: now, or, with a journal, as a ticket held until the
 * journal has made the change durable.
 */

#include <h2o.h>

#include "orderd/http.h"
#include "orderd/store.h"

/** A request waiting for the journal. */
typedef struct orderd_ticket {
    h2o_multithread_message_t msg;
    h2o_multithread_receiver_t *receiver;
    h2o_req_t *req;                /* NULL once the client has gone */
    struct orderd_ticket **guard;  /* pool-owned back pointer */
    int durable;
    int status;                    /* 201 or 200 */
    orderd_str_t body;             /* the order's JSON, encoded while the journal works */
    const orderd_order_t *order;   /* for the Location header */
    int replayed;                  /* an idempotency key's first answer: Idempotent-Replayed: true */
} orderd_ticket_t;

/**
 * A ticket for `req`, to be answered with `status` and t->order once
 * durable. The caller owns it until it hands it to the store (the journal
 * then owns it) or drops it. NULL when out of memory.
 */
orderd_ticket_t *orderd_ticket_new(h2o_req_t *req, int status);

/** Frees a ticket that was never handed to the journal (or NULL). */
void orderd_ticket_drop(orderd_ticket_t *t);

/**
 * The ticket's change is queued: encodes `order` (which must live as long
 * as the request) now, so the answer is only a write once the journal is
 * done, and has the app commit after this loop iteration. Returns 0 (for
 * on_req).
 */
int orderd_ticket_wait(orderd_ticket_t *t, orderd_app_t *app, const orderd_order_t *order);

/**
 * The start of a status change on order `id_text` (as the path gave it):
 * parses it into *id, reads If-Match into *pre and, with a journal, makes
 * the 200 ticket the change will wait on (*ticket, else NULL; the caller
 * owns it). Returns 0, or -1 with the 404 (no such id) or 503 (out of
 * memory) sent.
 */
int orderd_ticket_begin_change(h2o_req_t *req, orderd_app_t *app, orderd_str_t id_text, uint64_t *id,
                               orderd_precondition_t *pre, orderd_ticket_t **ticket);

/**
 * Answers with an idempotency key's first answer (`status`, `order`) and
 * Idempotent-Replayed: true: through `ticket` once the original change is
 * durable, or now when `ticket` is NULL (no journal). Returns 0.
 */
int orderd_ticket_replay(h2o_req_t *req, orderd_app_t *app, orderd_ticket_t *ticket, int status,
                         const orderd_order_t *order);

/**
 * Answers a status change (a cancel, a fulfilment step) from the store's
 * result `ret`, but for ORDERD_STORE_ECONFLICT, whose wording is the
 * caller's: REPLAYED as orderd_ticket_replay; OK with `order` through
 * `ticket` once durable, or 200 now without one; else 412, 422 (key
 * mismatch), 404 for `id` or 503, and the ticket (or NULL) is dropped.
 * Returns 0.
 */
int orderd_ticket_answer(h2o_req_t *req, orderd_app_t *app, orderd_ticket_t *ticket, int ret,
                         const orderd_order_t *order, orderd_str_t id);

#endif
