#include "orderd/order.h"

#include "orderd/currency.h"

#include <string.h>
#include <time.h>

static const char *const status_names[ORDERD_STATUS_COUNT] = {"pending",   "processing", "shipped",
                                                              "delivered", "cancelled",  "partially_shipped"};

const char *orderd_status_name(orderd_status_t status)
{
    return (unsigned)status < ORDERD_STATUS_COUNT ? status_names[status] : NULL;
}

int orderd_status_parse(const char *s, size_t len, orderd_status_t *out)
{
    for (unsigned i = 0; i < ORDERD_STATUS_COUNT; ++i) {
        if (strlen(status_names[i]) == len && memcmp(status_names[i], s, len) == 0) {
            *out = (orderd_status_t)i;
            return 0;
        }
    }
    return -1;
}

orderd_transition_t orderd_status_transition(orderd_status_t from, orderd_status_t to)
{
    if (to == ORDERD_STATUS_CANCELLED) {
        if (from == ORDERD_STATUS_PENDING)
            return ORDERD_TRANSITION_APPLY;
        return from == ORDERD_STATUS_CANCELLED ? ORDERD_TRANSITION_NOOP : ORDERD_TRANSITION_CONFLICT;
    }
    /* fulfilment: exactly one step forward along pending -> processing -> shipped -> delivered */
    if (from < ORDERD_STATUS_DELIVERED && to == from + 1)
        return ORDERD_TRANSITION_APPLY;
    return ORDERD_TRANSITION_CONFLICT;
}

static char *strings_of(orderd_order_t *o)
{
    return (char *)&o->items[o->n_items];
}

static const char *cstrings_of(const orderd_order_t *o)
{
    return (const char *)&o->items[o->n_items];
}

size_t orderd_order_size(const orderd_order_draft_t *draft, size_t user_len)
{
    size_t n = sizeof(orderd_order_t) + draft->n_items * sizeof(orderd_item_t) + user_len +
               draft->shipping_address.len + draft->payment_method.len;
    for (size_t i = 0; i < draft->n_items; ++i)
        n += draft->items[i].product_id.len;
    return (n + 7) & ~(size_t)7;
}

void orderd_order_build(orderd_order_t *dst, uint64_t id, orderd_str_t user_id, const orderd_order_draft_t *draft,
                        int64_t now_ms)
{
    size_t size = orderd_order_size(draft, user_id.len);
    memset(dst, 0, sizeof(*dst));
    dst->id = id;
    dst->total = draft->total;
    dst->created_ms = dst->updated_ms = now_ms;
    dst->version = 1;
    dst->size = (uint32_t)size;
    dst->n_items = (uint16_t)draft->n_items;
    dst->address_len = (uint16_t)draft->shipping_address.len;
    dst->user_len = (uint8_t)user_id.len;
    dst->payment_len = (uint8_t)draft->payment_method.len;
    dst->status = ORDERD_STATUS_PENDING;
    memcpy(dst->currency, draft->currency, 3);
    dst->money_scale = ORDERD_MONEY_SCALE_CURRENCY;

    char *s = strings_of(dst), *p = s;
    memcpy(p, user_id.base, user_id.len);
    p += user_id.len;
    memcpy(p, draft->shipping_address.base, draft->shipping_address.len);
    p += draft->shipping_address.len;
    memcpy(p, draft->payment_method.base, draft->payment_method.len);
    p += draft->payment_method.len;
    for (size_t i = 0; i < draft->n_items; ++i) {
        const orderd_item_draft_t *in = &draft->items[i];
        dst->items[i] = (orderd_item_t){.price = in->price,
                                        .quantity = in->quantity,
                                        .product_off = (uint16_t)(p - s),
                                        .product_len = (uint8_t)in->product_id.len};
        memcpy(p, in->product_id.base, in->product_id.len);
        p += in->product_id.len;
    }
    /* padding bytes are zero so identical orders are identical bytes */
    memset(p, 0, (size_t)((char *)dst + size - p));
}

unsigned orderd_order_digits(const orderd_order_t *o)
{
    int d = o->money_scale == ORDERD_MONEY_SCALE_CURRENCY ? orderd_currency_minor_units(o->currency) : 2;
    return d < 0 ? 2u : (unsigned)d;
}

orderd_str_t orderd_order_user(const orderd_order_t *o)
{
    return (orderd_str_t){cstrings_of(o), o->user_len};
}

orderd_str_t orderd_order_address(const orderd_order_t *o)
{
    return (orderd_str_t){cstrings_of(o) + o->user_len, o->address_len};
}

orderd_str_t orderd_order_payment(const orderd_order_t *o)
{
    return (orderd_str_t){cstrings_of(o) + o->user_len + o->address_len, o->payment_len};
}

orderd_str_t orderd_order_product(const orderd_order_t *o, size_t i)
{
    return (orderd_str_t){cstrings_of(o) + o->items[i].product_off, o->items[i].product_len};
}

int orderd_order_check(const orderd_order_t *o, size_t size)
{
    if (size < sizeof(*o) || o->size != size || o->status >= ORDERD_STATUS_COUNT || o->n_items == 0 ||
        o->n_items > ORDERD_ITEMS_MAX || o->user_len == 0 || o->user_len > ORDERD_USER_ID_MAX ||
        o->address_len > ORDERD_ADDRESS_MAX || o->payment_len > ORDERD_PAYMENT_MAX || o->version == 0 ||
        o->money_scale > ORDERD_MONEY_SCALE_CURRENCY)
        return -1;
    size_t strings_at = sizeof(*o) + (size_t)o->n_items * sizeof(orderd_item_t);
    if (strings_at > size)
        return -1;
    if (o->ext_off != 0 && (o->ext_off < strings_at || orderd_order_ext_check(o, size) != 0))
        return -1;
    size_t avail = (o->ext_off != 0 ? o->ext_off : size) - strings_at;
    if ((size_t)o->user_len + o->address_len + o->payment_len > avail)
        return -1;
    for (size_t i = 0; i < o->n_items; ++i) {
        const orderd_item_t *it = &o->items[i];
        if (it->product_len == 0 || (size_t)it->product_off + it->product_len > avail)
            return -1;
    }
    return 0;
}

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

void orderd_id_format(uint64_t id, char out[ORDERD_ID_LEN])
{
    /* 13 x 5 = 65 bits: the first character carries the top 4 bits */
    for (int i = ORDERD_ID_LEN - 1; i >= 0; --i) {
        out[i] = crockford[id & 31];
        id >>= 5;
    }
}

int orderd_id_parse(const char *s, size_t len, uint64_t *id)
{
    if (len != ORDERD_ID_LEN)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; ++i) {
        const char *hit = s[i] != '\0' ? memchr(crockford, s[i], 32) : NULL;
        if (hit == NULL || (i == 0 && hit - crockford > 15))
            return -1;
        v = (v << 5) | (uint64_t)(hit - crockford);
    }
    *id = v;
    return 0;
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

size_t orderd_time_format(int64_t ms, char buf[ORDERD_TIME_FMT_MAX])
{
    /* by hand, not strftime: two of these go into every order written */
    int64_t secs = ms / 1000, millis = ms % 1000;
    if (millis < 0) {
        millis += 1000;
        --secs;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    /* civil date from days since 1970-01-01 (Howard Hinnant's algorithm) */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999; /* outside RFC 3339; never produced by a real clock */
    char *p = buf;
    p = put2(p, (unsigned)(y / 100));
    p = put2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, (unsigned)(rem / 3600));
    *p++ = ':';
    p = put2(p, (unsigned)(rem / 60 % 60));
    *p++ = ':';
    p = put2(p, (unsigned)(rem % 60));
    *p++ = '.';
    *p++ = (char)('0' + millis / 100);
    p = put2(p, (unsigned)(millis % 100));
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

int64_t orderd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
