/* Decoding the operator's status-change body {"status": NAME} with yajl. */
#include <string.h>
#include <yajl/yajl_parse.h>

#include "internal/yajl_alloc.h"
#include "orderd/codec.h"

typedef struct status_dec {
    int depth;        /* containers open */
    int top_is_object;
    int at_status;    /* the next value is the top-level "status" member's */
    int seen;         /* how many "status" members */
    int is_string;
    int too_deep;     /* stopped at a container past ORDERD_CODEC_MAX_DEPTH */
    int known;        /* the string names a status: `value` */
    orderd_status_t value;
} status_dec_t;

/*
 * The name is looked up while yajl's pointer is good: a string with an escape
 * arrives in yajl's decode buffer, which the next escaped string or key
 * overwrites, so keeping the pointer made {"status":"\u0073hipped","x":"\u0041"}
 * a 422 (tests/fuzz/status_fuzz.c now checks every answer against yajl's tree).
 */
static void value_seen(status_dec_t *d, int is_string, const unsigned char *s, size_t len)
{
    if (d->depth == 0) /* a top-level scalar */
        d->top_is_object = 0;
    if (d->depth == 1 && d->at_status) {
        ++d->seen;
        d->is_string = is_string;
        d->known = is_string && orderd_status_parse((const char *)s, len, &d->value) == 0;
    }
    d->at_status = 0;
}

static int on_null(void *ctx)
{
    value_seen(ctx, 0, NULL, 0);
    return 1;
}

static int on_bool(void *ctx, int b)
{
    (void)b;
    value_seen(ctx, 0, NULL, 0);
    return 1;
}

static int on_number(void *ctx, const char *s, size_t len)
{
    (void)s, (void)len;
    value_seen(ctx, 0, NULL, 0);
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    value_seen(ctx, 1, s, len);
    return 1;
}

/* Another container opens: refused past the limit, before yajl pushes a level. */
static int enter(status_dec_t *d)
{
    if (d->depth >= ORDERD_CODEC_MAX_DEPTH) {
        d->too_deep = 1;
        return 0;
    }
    ++d->depth;
    return 1;
}

static int on_start_map(void *ctx)
{
    status_dec_t *d = ctx;
    if (d->depth == 0)
        d->top_is_object = 1;
    if (d->depth == 1 && d->at_status)
        ++d->seen; /* "status": {...}: there, but not a string */
    d->at_status = 0;
    return enter(d);
}

static int on_key(void *ctx, const unsigned char *key, size_t len)
{
    status_dec_t *d = ctx;
    d->at_status = d->depth == 1 && len == 6 && memcmp(key, "status", 6) == 0;
    return 1;
}

static int on_end(void *ctx)
{
    --((status_dec_t *)ctx)->depth;
    return 1;
}

static int on_start_array(void *ctx)
{
    status_dec_t *d = ctx;
    if (d->depth == 0)
        d->top_is_object = 0;
    if (d->depth == 1 && d->at_status)
        ++d->seen;
    d->at_status = 0;
    return enter(d);
}

static const yajl_callbacks callbacks = {on_null, on_bool, NULL, NULL, on_number, on_string, on_start_map,
                                         on_key,  on_end,  on_start_array, on_end};

int orderd_codec_decode_status(const char *body, size_t len, const orderd_alloc_t *a, orderd_status_t *status,
                               orderd_decode_report_t *report)
{
    static const orderd_field_error_t bad_status = {
        "status", "must be one of processing, shipped, delivered (pending, cancelled: not a fulfilment step)"};
    *report = (orderd_decode_report_t){NULL, NULL, 0};
    if (len == 0) {
        report->syntax = "the request body is empty";
        return ORDERD_DECODE_SYNTAX;
    }
    status_dec_t d = {0};
    const char *yajl_error;
    int failed = orderd_yajl_parse(&callbacks, &d, body, len, a, &yajl_error);
    if (failed && d.too_deep) {
        report->syntax = "arrays and objects nest too deeply";
        return ORDERD_DECODE_TOO_DEEP;
    }
    if (failed) {
        report->syntax = yajl_error;
        return ORDERD_DECODE_SYNTAX;
    }
    orderd_field_error_t *err = orderd_alloc(a, sizeof(*err));
    report->errors = err;
    report->n_errors = 1;
    if (!d.top_is_object) {
        *err = (orderd_field_error_t){"", "the body must be a JSON object"};
        return ORDERD_DECODE_INVALID;
    }
    if (d.seen != 1 || !d.is_string) {
        *err = (orderd_field_error_t){"status", d.seen > 1 ? "appears more than once" : "is required and must be a string"};
        return ORDERD_DECODE_INVALID;
    }
    if (!d.known) {
        *err = bad_status;
        return ORDERD_DECODE_INVALID;
    }
    *status = d.value;
    report->errors = NULL;
    report->n_errors = 0;
    return ORDERD_DECODE_OK;
}
