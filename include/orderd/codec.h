#ifndef ORDERD_CODEC_H
#define ORDERD_CODEC_H

/*
 * JSON in and out (yajl). Decoding a create request checks the whole contract
 * and reports every broken field; encoding writes orders, pages and problems.
 * All memory comes from the caller's request allocator.
 */

#include <stdint.h>

#include "orderd/common.h"
#include "orderd/order.h"
#include "orderd/order_ops.h"
#include "orderd/store.h"

/**
 * Most field errors one 422 lists. Problems with top-level members are always
 * listed; when per-item problems do not all fit, the last entry (field
 * "items") says the rest were left out.
 */
#define ORDERD_CODEC_MAX_ERRORS 1000

/**
 * How deep arrays and objects may nest in a body, the top level counting as
 * 1. A create body needs 3 (the order, its items, an item), a status change 1;
 * the rest is room for unknown members, which are ignored. The decoders stop
 * at the first container past it (ORDERD_DECODE_TOO_DEEP), so yajl's state
 * stays a few bytes whatever the body.
 */
#define ORDERD_CODEC_MAX_DEPTH 32


typedef enum {
    ORDERD_DECODE_OK = 0,
    ORDERD_DECODE_SYNTAX = -1,   /* not JSON: answer 400 */
    ORDERD_DECODE_INVALID = -2,  /* JSON that breaks the rules: answer 422 */
    ORDERD_DECODE_TOO_DEEP = -3, /* nested deeper than ORDERD_CODEC_MAX_DEPTH: answer 400 */
} orderd_decode_result_t;

typedef struct orderd_decode_report {
    const char *syntax;           /* for ORDERD_DECODE_SYNTAX and _TOO_DEEP: why, one line */
    orderd_field_error_t *errors; /* for ORDERD_DECODE_INVALID */
    size_t n_errors;
} orderd_decode_report_t;

/**
 * Decodes and validates a create-order body. On ORDERD_DECODE_OK *draft holds
 * the order (strings point into memory from `a`) with its total computed. On
 * failure *report says why. Never reads past body+len; the body need not be
 * NUL-terminated. Memory taken from `a` is a few times len at most.
 */
__attribute__((warn_unused_result)) int orderd_codec_decode_create(const char *body, size_t len,
                                                                   const orderd_alloc_t *a,
                                                                   orderd_order_draft_t *draft,
                                                                   orderd_decode_report_t *report);

/**
 * Decodes a status-change body {"status": NAME} (other members are ignored).
 * OK: *status set. SYNTAX: not JSON (400). TOO_DEEP: nested deeper than
 * ORDERD_CODEC_MAX_DEPTH (400). INVALID: not an object, no
 * "status" string, or a name that is no status (422, report->errors names
 * "status").
 */
__attribute__((warn_unused_result)) int orderd_codec_decode_status(const char *body, size_t len,
                                                                   const orderd_alloc_t *a, orderd_status_t *status,
                                                                   orderd_decode_report_t *report);

/**
 * Decodes the body of an operation after checkout (codec_ops.c) into *op:
 * EDIT {"operations": [...]}, CANCEL_LINES {"lines"} (no lines: a whole
 * cancel, op->n_lines 0), SHIP {"lines"?, "carrier", "tracking_number",
 * "tracking_url"}, RETURN_REQUEST {"lines", "reason"?}, REFUND {"lines"} or
 * {"amount"}. Results as for orderd_codec_decode_create; strings and arrays
 * from `a`. What depends on the order is left to orderd_op_apply.
 */
__attribute__((warn_unused_result)) int orderd_codec_decode_op(const char *body, size_t len, orderd_op_type_t type,
                                                               const orderd_alloc_t *a, orderd_op_t *op,
                                                               orderd_decode_report_t *report);

/** Parses a line id ("l1" to "l65535"); 0 and *line_no, or -1. */
int orderd_codec_line_id_parse(orderd_str_t s, uint16_t *line_no);

/** The order as JSON (see docs/openapi.yaml, schema Order); memory from `a`. */
orderd_str_t orderd_codec_encode_order(const orderd_order_t *o, const orderd_alloc_t *a);

/** The order as JSON with "preview": true: what a dry run would make; memory from `a`. */
orderd_str_t orderd_codec_encode_preview(const orderd_order_t *o, const orderd_alloc_t *a);

/** A page of orders: {"orders":[...],"limit","offset","total"}; memory from `a`. */
orderd_str_t orderd_codec_encode_page(orderd_order_t *const *orders, size_t n, unsigned limit, size_t offset,
                                      size_t total, const orderd_alloc_t *a);

/** An RFC 9457 problem. `errors` may be NULL; `type` is the problem's slug. */
typedef struct orderd_problem {
    int status;
    const char *type;
    const char *title;
    const char *detail;
    const orderd_field_error_t *errors;
    size_t n_errors;
    orderd_str_t instance; /* the request's id; not written when empty */
} orderd_problem_t;

/**
 * An order's audit trail: {"events":[{"seq","type","status","at","actor"}]}.
 * `actor` of a user's event is "user:" + the order's user id, else "operator".
 */
orderd_str_t orderd_codec_encode_audit_trail(const orderd_order_t *o, const orderd_audit_entry_t *events, size_t n,
                                        const orderd_alloc_t *a);

/** The problem as application/problem+json; memory from `a`. */
orderd_str_t orderd_codec_encode_problem(const orderd_problem_t *p, const orderd_alloc_t *a);

/** Prefix of every problem type URI; the slug follows. */
#define ORDERD_PROBLEM_TYPE_PREFIX "urn:orderd:problem:"

#endif
