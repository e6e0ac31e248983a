/* A JSON body as a tree (json_tree.h), from yajl's events. */
#include "internal/json_tree.h"

#include <string.h>
#include <yajl/yajl_parse.h>

#include "internal/utf8.h"
#include "internal/yajl_alloc.h"
#include "orderd/codec.h"

typedef struct frame {
    orderd_jt_t *node;
    size_t cap;
} frame_t;

typedef struct builder {
    const orderd_alloc_t *a;
    frame_t stack[ORDERD_CODEC_MAX_DEPTH + 1];
    int depth;
    orderd_jt_t *root;
    orderd_str_t key; /* the member name the next value of an object belongs to */
    const char *why;
    int too_deep;
} builder_t;

static orderd_str_t copy(builder_t *b, const unsigned char *s, size_t len)
{
    char *c = orderd_alloc(b->a, len + 1);
    if (len != 0)
        memcpy(c, s, len);
    c[len] = '\0';
    return (orderd_str_t){c, len};
}

/* Adds `v` to the open container (or makes it the root). */
static void attach(builder_t *b, orderd_jt_t *v)
{
    if (b->depth == 0) {
        b->root = v;
        return;
    }
    frame_t *f = &b->stack[b->depth - 1];
    orderd_jt_t *p = f->node;
    if (p->n == f->cap) {
        size_t ncap = f->cap == 0 ? 4 : f->cap * 2;
        orderd_jt_t **items = orderd_alloc(b->a, ncap * sizeof(*items));
        if (p->n != 0)
            memcpy(items, p->items, p->n * sizeof(*items));
        p->items = items;
        if (p->type == JT_OBJECT) {
            orderd_str_t *keys = orderd_alloc(b->a, ncap * sizeof(*keys));
            if (p->n != 0)
                memcpy(keys, p->keys, p->n * sizeof(*keys));
            p->keys = keys;
        }
        f->cap = ncap;
    }
    if (p->type == JT_OBJECT)
        p->keys[p->n] = b->key;
    p->items[p->n++] = v;
}

static orderd_jt_t *node(builder_t *b, orderd_jt_type_t type)
{
    orderd_jt_t *v = orderd_alloc(b->a, sizeof(*v));
    memset(v, 0, sizeof(*v));
    v->type = type;
    attach(b, v);
    return v;
}

static int on_null(void *ctx)
{
    node(ctx, JT_NULL);
    return 1;
}

static int on_bool(void *ctx, int v)
{
    node(ctx, JT_BOOL)->boolean = v;
    return 1;
}

static int on_number(void *ctx, const char *s, size_t len)
{
    builder_t *b = ctx;
    node(b, JT_NUMBER)->text = copy(b, (const unsigned char *)s, len);
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    builder_t *b = ctx;
    if (!orderd_utf8_valid(s, len)) {
        b->why = "a string is not valid UTF-8";
        return 0;
    }
    node(b, JT_STRING)->text = copy(b, s, len); /* yajl's buffer is reused by the next escaped string */
    return 1;
}

static int on_key(void *ctx, const unsigned char *s, size_t len)
{
    builder_t *b = ctx;
    if (!orderd_utf8_valid(s, len)) {
        b->why = "a member name is not valid UTF-8";
        return 0;
    }
    b->key = copy(b, s, len);
    return 1;
}

static int on_open(builder_t *b, orderd_jt_type_t type)
{
    /* stop before yajl pushes another level */
    if (b->depth >= ORDERD_CODEC_MAX_DEPTH) {
        b->too_deep = 1;
        return 0;
    }
    orderd_jt_t *v = node(b, type);
    b->stack[b->depth++] = (frame_t){v, 0};
    return 1;
}

static int on_start_map(void *ctx)
{
    return on_open(ctx, JT_OBJECT);
}

static int on_start_array(void *ctx)
{
    return on_open(ctx, JT_ARRAY);
}

static int on_close(void *ctx)
{
    --((builder_t *)ctx)->depth;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_close,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_close,
};

int orderd_jt_parse(const char *body, size_t len, const orderd_alloc_t *a, orderd_jt_t **root, const char **why)
{
    builder_t b = {.a = a};
    *root = NULL;
    *why = NULL;
    if (len == 0) {
        *why = "the request body is empty";
        return ORDERD_JT_SYNTAX;
    }
    const char *yajl_error;
    int failed = orderd_yajl_parse(&callbacks, &b, body, len, a, &yajl_error);
    if (failed && b.too_deep)
        return ORDERD_JT_TOO_DEEP;
    if (failed) {
        *why = b.why != NULL ? b.why : yajl_error;
        return ORDERD_JT_SYNTAX;
    }
    *root = b.root;
    return ORDERD_JT_OK;
}

const orderd_jt_t *orderd_jt_get(const orderd_jt_t *o, const char *name, int *count)
{
    const orderd_jt_t *hit = NULL;
    size_t len = strlen(name);
    int n = 0;
    for (size_t i = 0; o != NULL && o->type == JT_OBJECT && i < o->n; ++i)
        if (o->keys[i].len == len && memcmp(o->keys[i].base, name, len) == 0) {
            if (hit == NULL)
                hit = o->items[i];
            ++n;
        }
    if (count != NULL)
        *count = n;
    return hit;
}
