/*
 * Answering a change: now, or once the journal has made it durable. The
 * request waits as a ticket; the writer thread hands the ticket back to the
 * request's own thread as an h2o message. If the client leaves first, h2o frees the
 * request's pool; a pool-owned guard then clears the ticket's pointer so the
 * late answer is dropped. Tickets and guards are only touched on the
 * request's thread, except the message hand-off itself.
 */
#include <stdlib.h>

#include "orderd/store.h"

#include "conditional.h"
#include "durable.h"
#include "events.h"
#include "rapid_reset.h"
#include "identity.h"
#include "scrape.h"
#include "request_id.h"
#include "respond.h"

/* The pool goes while the ticket waits: the client left (an HTTP/2 reset
 * counts toward --http2-max-resets). */
static void on_guard_dispose(void *p)
{
    orderd_ticket_t *t = *(orderd_ticket_t **)p;
    if (t != NULL) {
        orderd_http_rapid_reset_note(t->req);
        t->req = NULL;
    }
}

orderd_ticket_t *orderd_ticket_new(h2o_req_t *req, int status)
{
    orderd_http_thread_t *thread = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, ctx, req->conn->ctx);
    orderd_ticket_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->receiver = &thread->durable;
    t->req = req;
    t->status = status;
    t->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*t->guard), on_guard_dispose);
    *t->guard = t;
    return t;
}

void orderd_ticket_drop(orderd_ticket_t *t)
{
    if (t == NULL)
        return;
    if (t->req != NULL)
        *t->guard = NULL;
    free(t);
}

/*
 * libh2o 2.2.5 stops reading an HTTP/1 connection while its request is being
 * handled, and starts again once the response is sent. For an answer given
 * in a later loop iteration, that is one epoll_ctl to take the socket out of
 * the poll set and one to put it back: per request, about as much kernel time
 * as reading the request. While a request waits for the journal its socket
 * is therefore kept in the poll set, told not to read: buffers the request
 * still points into never move. If the client sends more (a pipelined
 * request) or closes, the callback below hands the socket back to h2o's own
 * stopped state at once; otherwise it is handed back just before the answer,
 * and h2o's restart in the same iteration leaves the poll set untouched.
 */
static h2o_socket_t *http1_socket(h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL)
        return NULL;
    return req->conn->callbacks->get_socket(req->conn);
}

static void on_readable_while_waiting(h2o_socket_t *sock, const char *err)
{
    (void)err;
    h2o_socket_dont_read(sock, 0);
    h2o_socket_read_stop(sock);
}

static void keep_polled(h2o_req_t *req)
{
    h2o_socket_t *sock = http1_socket(req);
    if (sock != NULL && !h2o_socket_is_reading(sock)) {
        h2o_socket_dont_read(sock, 1);
        h2o_socket_read_start(sock, on_readable_while_waiting);
    }
}

static void hand_back(h2o_req_t *req)
{
    h2o_socket_t *sock = http1_socket(req);
    /* h2o does not read while the request is in flight: reading means ours */
    if (sock != NULL && h2o_socket_is_reading(sock))
        on_readable_while_waiting(sock, NULL);
}

void orderd_http_on_durable(void *ctx, void *waiter, int durable)
{
    (void)ctx;
    orderd_ticket_t *t = waiter;
    t->durable = durable;
    h2o_multithread_send_message(t->receiver, &t->msg);
}

/* An idempotency key's first answer, given again. */
static void mark_replayed(h2o_req_t *req)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("idempotent-replayed"), 0, NULL,
                          H2O_STRLIT("true"));
}

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        orderd_ticket_t *t = H2O_STRUCT_FROM_MEMBER(orderd_ticket_t, msg.link, messages->next);
        h2o_linklist_unlink(&t->msg.link);
        h2o_req_t *req = t->req;
        if (req != NULL) {
            hand_back(req);
            if (t->durable && t->replayed)
                mark_replayed(req);
            if (t->durable)
                orderd_http_send_order_body(req, t->status, t->order, t->body);
            else
                orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0,
                                    "the change could not be written to the journal and was not made; retry later");
        }
        orderd_ticket_drop(t);
    }
}

static void on_commit(h2o_timeout_entry_t *entry)
{
    orderd_http_thread_t *t = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, commit, entry);
    t->commit_app->commit(t->commit_app->commit_ctx);
}

int orderd_ticket_wait(orderd_ticket_t *t, orderd_app_t *app, const orderd_order_t *order)
{
    orderd_alloc_t a = orderd_http_alloc(t->req);
    orderd_http_thread_t *thread = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, durable, t->receiver);
    t->order = order;
    t->body = orderd_codec_encode_order(order, &a);
    keep_polled(t->req);
    /* zero timeouts run after the loop has handled every ready socket: one
     * wake-up carries this iteration's changes into one batch */
    if (app->commit != NULL && !h2o_timeout_is_linked(&thread->commit)) {
        thread->commit_app = app;
        h2o_timeout_link(thread->ctx.loop, &thread->ctx.zero_timeout, &thread->commit);
    }
    return 0;
}

void orderd_http_thread_init(orderd_http_thread_t *t, h2o_multithread_queue_t *queue, orderd_app_t *app)
{
    orderd_http_metrics_thread_init(t, app);
    h2o_multithread_register_receiver(queue, &t->durable, on_messages);
    orderd_http_request_id_seed(t);
    t->http2_max_resets = app->http2_max_resets;
    orderd_http_identity_thread_init(t, queue, app);
    t->commit = (h2o_timeout_entry_t){0};
    t->commit.cb = on_commit;
    orderd_http_events_thread_init(t, queue, app);
}

/* --- answering a change: now, or once durable --- */

int orderd_ticket_begin_change(h2o_req_t *req, orderd_app_t *app, orderd_str_t id_text, uint64_t *id,
                               orderd_precondition_t *pre, orderd_ticket_t **ticket)
{
    *ticket = NULL;
    if (orderd_id_parse(id_text.base, id_text.len, id) != 0) {
        orderd_http_order_not_found(req, id_text);
        return -1;
    }
    orderd_http_if_match(req, *id, pre);
    if (app->durable && (*ticket = orderd_ticket_new(req, 200)) == NULL) {
        orderd_http_unavailable(req, ORDERD_STORE_ENOMEM);
        return -1;
    }
    return 0;
}

int orderd_ticket_replay(h2o_req_t *req, orderd_app_t *app, orderd_ticket_t *ticket, int status,
                         const orderd_order_t *o)
{
    if (ticket != NULL) {
        ticket->status = status;
        ticket->replayed = 1;
        return orderd_ticket_wait(ticket, app, o);
    }
    mark_replayed(req);
    return orderd_http_send_order(req, status, o);
}

int orderd_ticket_answer(h2o_req_t *req, orderd_app_t *app, orderd_ticket_t *ticket, int ret,
                         const orderd_order_t *order, orderd_str_t id_text)
{
    if (ret == ORDERD_STORE_REPLAYED)
        return orderd_ticket_replay(req, app, ticket, 200, order);
    if (ret == ORDERD_STORE_OK && ticket != NULL)
        return orderd_ticket_wait(ticket, app, order); /* applied (or a repeat): answered once durable */
    orderd_ticket_drop(ticket);
    switch (ret) {
    case ORDERD_STORE_OK:
        return orderd_http_send_order(req, 200, order);
    case ORDERD_STORE_EPRECONDITION:
        return orderd_http_precondition_failed(req, order);
    case ORDERD_STORE_EKEYMISMATCH:
        return orderd_http_key_mismatch(req);
    case ORDERD_STORE_ENOTFOUND:
        return orderd_http_order_not_found(req, id_text);
    default:
        return orderd_http_unavailable(req, ret);
    }
}
