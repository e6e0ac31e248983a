/* One journal record as the feed's event JSON (feed.h, docs/feed.md). */
#include <string.h>

#include <yajl/yajl_gen.h>

#include "orderd/codec.h"
#include "orderd/feed.h"
#include "orderd/journal.h"
#include "internal/yajl_alloc.h"

#define KEY(g, lit) yajl_gen_string((g), (const unsigned char *)(lit), sizeof(lit) - 1)

static void gen_cstr(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* What an event says, whatever record it came from. */
typedef struct event {
    const char *type; /* after "order." */
    uint64_t order_id;
    uint8_t status, actor;
    uint32_t version;
    int64_t at_ms;
    const orderd_order_t *order; /* after the change; NULL: a status record written before records carried it */
} event_t;

static int event_of(const orderd_change_t *ch, event_t *ev)
{
    switch (ch->type) {
    case ORDERD_CHANGE_CREATED: {
        const orderd_order_t *o = ch->u.created.order;
        *ev = (event_t){"created", o->id, o->status, ORDERD_ACTOR_USER, o->version, o->created_ms, o};
        return 0;
    }
    case ORDERD_CHANGE_STATUS: {
        *ev = (event_t){"status_changed",
                        ch->u.status_changed.order_id,
                        ch->u.status_changed.status,
                        ch->u.status_changed.actor,
                        ch->u.status_changed.version,
                        ch->u.status_changed.at_ms,
                        ch->u.status_changed.after};
        return 0;
    }
    case ORDERD_CHANGE_AMENDED: {
        const char *name = (ch->u.amended.flags & ORDERD_AMENDED_VIA_STATUS) ? "status_changed"
                                                                              : orderd_op_name(ch->u.amended.op);
        if (name == NULL)
            return -1;
        *ev = (event_t){name,
                        ch->u.amended.order_id,
                        ch->u.amended.status,
                        ch->u.amended.actor,
                        ch->u.amended.version,
                        ch->u.amended.at_ms,
                        ch->u.amended.after};
        return 0;
    }
    default:
        return 1; /* an idempotency key: no event */
    }
}

int orderd_feed_render(const unsigned char *record, size_t len, unsigned node_id, const orderd_alloc_t *a,
                       orderd_str_t *out, uint64_t *order_id, int64_t *at_ms)
{
    orderd_record_t rec;
    size_t used;
    if (orderd_record_parse(record, len, &rec, &used) != ORDERD_FRAME_OK)
        return -1;
    if (rec.type == ORDERD_REC_IDEM_KEY)
        return 1;
    /* the blobs are read in place: give them the alignment of the table's */
    unsigned char *payload = orderd_alloc(a, rec.len + 8);
    memcpy(payload, rec.payload, rec.len);
    rec.payload = payload;
    orderd_change_t ch;
    event_t ev;
    int r;
    if (orderd_change_from_record(&rec, &ch) != 0 || (r = event_of(&ch, &ev)) < 0)
        return -1;
    if (r > 0)
        return 1;

    char id[ORDERD_ID_LEN], when[ORDERD_TIME_FMT_MAX], eid[48], type[48];
    yajl_alloc_funcs funcs;
    orderd_yajl_alloc_funcs(&funcs, a);
    yajl_gen g = yajl_gen_alloc(&funcs);
    yajl_gen_map_open(g);
    KEY(g, "id");
    int n = snprintf(eid, sizeof(eid), "%u-%llu", node_id, (unsigned long long)rec.seq);
    yajl_gen_string(g, (const unsigned char *)eid, (size_t)n);
    KEY(g, "seq");
    n = snprintf(eid, sizeof(eid), "%llu", (unsigned long long)rec.seq);
    yajl_gen_number(g, eid, (size_t)n);
    KEY(g, "node");
    yajl_gen_integer(g, node_id);
    KEY(g, "type");
    n = snprintf(type, sizeof(type), "order.%s", ev.type);
    yajl_gen_string(g, (const unsigned char *)type, (size_t)n);
    KEY(g, "order_id");
    orderd_id_format(ev.order_id, id);
    yajl_gen_string(g, (const unsigned char *)id, ORDERD_ID_LEN);
    KEY(g, "user_id");
    if (ev.order != NULL) {
        orderd_str_t u = orderd_order_user(ev.order);
        yajl_gen_string(g, (const unsigned char *)u.base, u.len);
    } else {
        yajl_gen_null(g);
    }
    KEY(g, "status");
    gen_cstr(g, orderd_status_name((orderd_status_t)ev.status));
    KEY(g, "version");
    yajl_gen_integer(g, ev.version);
    KEY(g, "actor");
    gen_cstr(g, ev.actor == ORDERD_ACTOR_OPERATOR ? "operator" : "user");
    KEY(g, "at");
    yajl_gen_string(g, (const unsigned char *)when, orderd_time_format(ev.at_ms, when));
    KEY(g, "order");
    if (ev.order == NULL)
        yajl_gen_null(g);
    const unsigned char *head;
    size_t head_len;
    yajl_gen_get_buf(g, &head, &head_len);
    /* the order as GET shows it, rendered by the order encoder, after the
     * member's colon (yajl_gen writes a colon with the value that follows) */
    orderd_str_t body = ev.order != NULL ? orderd_codec_encode_order(ev.order, a) : (orderd_str_t){"", 0};
    size_t len_out = head_len + (ev.order != NULL) + body.len + 1;
    char *buf = orderd_alloc(a, len_out);
    memcpy(buf, head, head_len);
    char *p = buf + head_len;
    if (ev.order != NULL)
        *p++ = ':';
    memcpy(p, body.base, body.len);
    p[body.len] = '}';
    yajl_gen_free(g);
    *out = (orderd_str_t){buf, len_out};
    *order_id = ev.order_id;
    *at_ms = ev.at_ms;
    return 0;
}
