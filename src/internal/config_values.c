/* The command line's values and the listener binding (internal/config_values.h). */
#include "internal/config_values.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Parses a whole decimal number in [min, max]; -1 when it is not one. */
int orderd_config_parse_ull(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "90", "90s", "500ms", "15m", "24h", "7d" (a bare number is seconds), in
 * [min_ms, max_ms]; -1 when it is not one. */
int orderd_config_parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, int64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned long long ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000}};
    char num[32];
    size_t len = strlen(s);
    unsigned long long v, unit = 1000;
    if (len == 0 || len >= sizeof(num))
        return -1;
    memcpy(num, s, len + 1);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); ++i) {
        size_t n = strlen(units[i].suffix);
        if (len > n && strcmp(num + len - n, units[i].suffix) == 0) {
            num[len - n] = '\0';
            unit = units[i].ms;
            break;
        }
    }
    if (orderd_config_parse_ull(num, 0, max_ms, &v) != 0 || v > max_ms / unit || v * unit < min_ms)
        return -1;
    *out = (int64_t)(v * unit);
    return 0;
}

/* "https://shop.example", "http://localhost:3000": scheme://host[:port], no
 * path; or "*". An Origin header is compared with it byte for byte. */
int orderd_config_valid_origin(const char *s)
{
    if (strcmp(s, "*") == 0)
        return 1;
    const char *rest = strncmp(s, "https://", 8) == 0 ? s + 8 : strncmp(s, "http://", 7) == 0 ? s + 7 : NULL;
    if (rest == NULL || *rest == '\0' || strlen(rest) > 255)
        return 0;
    for (; *rest != '\0'; ++rest) {
        char c = *rest;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '[' ||
              c == ']'))
            return 0;
    }
    return 1;
}

int orderd_config_parse_listen(orderd_listener_config_t *l, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    unsigned long long port;
    if (colon == NULL || orderd_config_parse_ull(colon + 1, 0, 65535, &port) != 0)
        return -1;
    const char *host = arg;
    size_t len = (size_t)(colon - arg);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        ++host;
        len -= 2;
    } else if (memchr(host, ':', len) != NULL) {
        return -1; /* a bare IPv6 address needs brackets */
    }
    if (len == 0 || len >= sizeof(l->host))
        return -1;
    memcpy(l->host, host, len);
    l->host[len] = '\0';
    l->port = (uint16_t)port;
    return 0;
}




static const char *bound_flag_name(const listen_state_t *st, unsigned bit)
{
    return st->bound_name[bit == BOUND_CERT ? 0 : bit == BOUND_KEY ? 1 : 2];
}

/* Sets one bound flag on the last --listen (or on the early slot before any). */
int orderd_config_bind_flag(orderd_config_t *cfg, listen_state_t *st, unsigned bit, const char *name, const char *arg,
                     FILE *err)
{
    st->bound_name[bit == BOUND_CERT ? 0 : bit == BOUND_KEY ? 1 : 2] = name;
    unsigned i = cfg->nlisteners > 0 ? cfg->nlisteners - 1 : ORDERD_MAX_LISTENERS;
    orderd_listener_config_t *l = i < ORDERD_MAX_LISTENERS ? &cfg->listeners[i] : &st->early;
    if (st->given[i] & bit) {
        fprintf(err, "orderd: %s given twice for --listen %s\n", bound_flag_name(st, bit),
                i < ORDERD_MAX_LISTENERS ? st->spec[i] : "(the first one)");
        return -1;
    }
    if (bit == BOUND_HTTP2) {
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
            fprintf(err, "orderd: %s: expected on or off, got '%s'\n", name, arg);
            return -1;
        }
        l->http2 = strcmp(arg, "on") == 0;
    } else if (*arg == '\0') {
        fprintf(err, "orderd: %s: expected a file, got ''\n", bound_flag_name(st, bit));
        return -1;
    } else if (bit == BOUND_CERT) {
        l->tls_cert = arg;
    } else {
        l->tls_key = arg;
    }
    st->given[i] |= bit;
    return 0;
}

/* After the last flag: the default listener, the early flags bound, each
 * listener's certificate with its key, no address twice. */
int orderd_config_finish_listeners(orderd_config_t *cfg, listen_state_t *st, FILE *err)
{
    unsigned early = st->given[ORDERD_MAX_LISTENERS];
    if (cfg->nlisteners == 0) {
        cfg->listeners[0] = st->early; /* 127.0.0.1:8080 with what was given */
        cfg->nlisteners = 1;
        st->given[0] = early;
        st->spec[0] = "127.0.0.1:8080";
    } else if (early != 0 && cfg->nlisteners > 1) {
        unsigned bit = early & BOUND_CERT ? BOUND_CERT : early & BOUND_KEY ? BOUND_KEY : BOUND_HTTP2;
        fprintf(err, "orderd: %s before the first --listen: with several --listen, give it after the one it is for\n",
                bound_flag_name(st, bit));
        return -1;
    } else if (early != 0) {
        orderd_listener_config_t *l = &cfg->listeners[0];
        unsigned both = early & st->given[0];
        if (both != 0) {
            fprintf(err, "orderd: %s given twice for --listen %s\n", bound_flag_name(st, both & -both), st->spec[0]);
            return -1;
        }
        if (early & BOUND_CERT)
            l->tls_cert = st->early.tls_cert;
        if (early & BOUND_KEY)
            l->tls_key = st->early.tls_key;
        if (early & BOUND_HTTP2)
            l->http2 = st->early.http2;
        st->given[0] |= early;
    }
    for (unsigned i = 0; i < cfg->nlisteners; ++i) {
        const orderd_listener_config_t *l = &cfg->listeners[i];
        if ((l->tls_cert == NULL) != (l->tls_key == NULL)) {
            fprintf(err, "orderd: --listen %s has %s but no %s\n", st->spec[i], l->tls_cert ? "--tls-cert" : "--tls-key",
                    l->tls_cert ? "--tls-key" : "--tls-cert");
            return -1;
        }
        for (unsigned j = 0; j < i; ++j) {
            if (l->port != 0 && l->port == cfg->listeners[j].port && strcmp(l->host, cfg->listeners[j].host) == 0) {
                fprintf(err, "orderd: --listen %s given twice\n", st->spec[i]);
                return -1;
            }
        }
    }
    return 0;
}

/* "on" -> 1, "off" -> 0; -1 (with the message) for anything else */
static int on_off(parse_state_t *p, const char *name, const char *v)
{
    if (strcmp(v, "on") == 0)
        return 1;
    if (strcmp(v, "off") == 0)
        return 0;
    return FAIL(p, "%s: expected on or off, got '%s'\n", name, v);
}

int orderd_config_set_compress(parse_state_t *p, const char *name, const char *v)
{
    int on = on_off(p, name, v);
    if (on < 0)
        return -1;
    p->cfg->compress = on;
    return 0;
}

/* "off" or a whole number from 1 to max; -1 (with the message) for anything else */
static int set_limit(parse_state_t *p, const char *name, const char *v, unsigned long long max, uint64_t *out)
{
    unsigned long long n;
    if (strcmp(v, "off") == 0) {
        *out = 0;
        return 0;
    }
    if (orderd_config_parse_ull(v, 1, max, &n) != 0)
        return FAIL(p, "%s: expected off or a number from 1 to %llu, got '%s'\n", name, max, v);
    *out = n;
    return 0;
}

int orderd_config_set_rate_limit(parse_state_t *p, const char *name, const char *v)
{
    /* the burst is N unless --rate-limit-burst says otherwise (applied after every flag) */
    if (orderd_rate_parse(v, &p->cfg->rate_limit) != 0)
        return FAIL(p, "%s: expected off or N/s, N/m or N/h with N from 1 to %u, got '%s'\n", name, ORDERD_RATE_MAX, v);
    return 0;
}

int orderd_config_set_rate_burst(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (orderd_config_parse_ull(v, 1, ORDERD_RATE_MAX, &n) != 0)
        return FAIL(p, "%s: expected a number from 1 to %u, got '%s'\n", name, ORDERD_RATE_MAX, v);
    p->rate_burst = (uint32_t)n;
    p->rate_burst_name = name;
    return 0;
}

int orderd_config_set_max_orders_per_user(parse_state_t *p, const char *name, const char *v)
{
    return set_limit(p, name, v, 1ull << 40, &p->cfg->max_orders_per_user);
}

int orderd_config_set_max_orders(parse_state_t *p, const char *name, const char *v)
{
    return set_limit(p, name, v, 1ull << 40, &p->cfg->max_orders);
}

/* "off", or bytes with an optional K, M or G (powers of 1024), 1 to 1 PiB */
int orderd_config_set_memory_limit(parse_state_t *p, const char *name, const char *v)
{
    char num[32];
    size_t len = strlen(v);
    unsigned long long n, unit = 1;
    if (strcmp(v, "off") == 0) {
        p->cfg->memory_limit = 0;
        return 0;
    }
    if (len > 0 && len < sizeof(num)) {
        memcpy(num, v, len + 1);
        const char *units = "KMG";
        const char *u = strchr(units, num[len - 1]);
        if (u != NULL) {
            unit = 1ull << (10 * (u - units + 1));
            num[--len] = '\0';
        }
        if (orderd_config_parse_ull(num, 1, (1ull << 50) / unit, &n) == 0) {
            p->cfg->memory_limit = n * unit;
            return 0;
        }
    }
    return FAIL(p, "%s: expected off or a number of bytes (K, M, G: KiB, MiB, GiB) up to 1 PiB, got '%s'\n", name, v);
}

int orderd_config_set_log_format(parse_state_t *p, const char *name, const char *v)
{
    if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
        return FAIL(p, "%s: expected text or json, got '%s'\n", name, v);
    p->cfg->log_json = strcmp(v, "json") == 0;
    return 0;
}

int orderd_config_set_user_auth(parse_state_t *p, const char *name, const char *v)
{
    if (strcmp(v, "header") != 0 && strcmp(v, "jwt") != 0)
        return FAIL(p, "%s: expected header or jwt, got '%s'\n", name, v);
    p->cfg->user_auth_jwt = strcmp(v, "jwt") == 0;
    return 0;
}

/* A file named by a --jwt-* flag. */
static int jwt_file(parse_state_t *p, const char *name, const char *v, const char **out)
{
    if (*v == '\0')
        return FAIL(p, "%s: expected a file, got ''\n", name);
    *out = v;
    return 0;
}

int orderd_config_set_jwt_key_file(parse_state_t *p, const char *name, const char *v)
{
    return jwt_file(p, name, v, &p->cfg->jwt.key_file);
}

int orderd_config_set_jwt_secret_file(parse_state_t *p, const char *name, const char *v)
{
    return jwt_file(p, name, v, &p->cfg->jwt.secret_file);
}

/* An issuer, audience or claim name: compared byte for byte with the token's. */
static int jwt_name(parse_state_t *p, const char *name, const char *v, const char **out)
{
    size_t len = strlen(v);
    if (len < 1 || len > ORDERD_JWT_NAME_MAX)
        return FAIL(p, "%s: expected 1 to %d bytes, got %zu\n", name, ORDERD_JWT_NAME_MAX, len);
    *out = v;
    return 0;
}

int orderd_config_set_jwt_issuer(parse_state_t *p, const char *name, const char *v)
{
    return jwt_name(p, name, v, &p->cfg->jwt.issuer);
}

int orderd_config_set_jwt_audience(parse_state_t *p, const char *name, const char *v)
{
    return jwt_name(p, name, v, &p->cfg->jwt.audience);
}

int orderd_config_set_jwt_user_claim(parse_state_t *p, const char *name, const char *v)
{
    return jwt_name(p, name, v, &p->cfg->jwt.user_claim);
}

int orderd_config_set_jwt_leeway(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (orderd_config_parse_ull(v, 0, 300, &n) != 0)
        return FAIL(p, "%s: expected seconds from 0 to 300, got '%s'\n", name, v);
    p->cfg->jwt.leeway_s = (int64_t)n;
    return 0;
}
