/*
 * Verifying a customer's token (--user-auth jwt). libjwt 1.10's jwt_decode
 * checks the signature with whatever algorithm the token's header names, so
 * the header is read here first: the key is picked (by kid), the header's
 * alg must be that key's own, and only then is libjwt asked. That is what
 * stops an unsigned token (alg none) and an HS256 token "signed" with the
 * RS256 public key. Once the signature holds, the claims are read from the
 * same payload bytes: exp, nbf, iss, aud and the user. What it costs, and
 * why a signature has a first look here and verified tokens a cache: jwt.h.
 */
#include "orderd/jwt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <yajl/yajl_tree.h>

#include "internal/base64url.h"
#include "internal/jwt_keys.h"
#include "orderd/order.h"

/* A signature's base64url: RSA of up to 8192 bits (1024 bytes) */
#define SIG_B64_MAX 1366

/* A part of the token decoded: its JSON, NUL-terminated, parsed. */
typedef struct part {
    char text[ORDERD_BASE64URL_DECODED_MAX(ORDERD_JWT_TOKEN_MAX) + 1];
    yajl_val json; /* a JSON object; free with yajl_tree_free */
} part_t;

/* Decodes and parses one base64url part; -1 unless it is a JSON object. */
static int decode_part(const char *b64, size_t len, part_t *p)
{
    ssize_t n = orderd_base64url_decode(b64, len, (unsigned char *)p->text, sizeof(p->text) - 1);
    p->json = NULL;
    if (n <= 0 || memchr(p->text, '\0', (size_t)n) != NULL)
        return -1;
    p->text[n] = '\0';
    p->json = yajl_tree_parse(p->text, NULL, 0);
    if (!YAJL_IS_OBJECT(p->json)) {
        yajl_tree_free(p->json);
        p->json = NULL;
        return -1;
    }
    return 0;
}

/* The member `name` of object obj in *out (NULL when absent). -1 when it is
 * there twice: JSON parsers disagree on which one counts (yajl here takes the
 * first, libjwt's jansson the last), so a name orderd reads must be unique. */
static int member(yajl_val obj, const char *name, yajl_val *out)
{
    *out = NULL;
    for (size_t i = 0; i < obj->u.object.len; ++i) {
        if (strcmp(obj->u.object.keys[i], name) != 0)
            continue;
        if (*out != NULL)
            return -1;
        *out = obj->u.object.values[i];
    }
    return 0;
}

/* A NumericDate (RFC 7519 2): an integer or a fraction, in seconds. */
static int numeric_date(yajl_val v, double *out)
{
    if (YAJL_IS_INTEGER(v))
        *out = (double)YAJL_GET_INTEGER(v);
    else if (YAJL_IS_DOUBLE(v))
        *out = YAJL_GET_DOUBLE(v);
    else
        return -1;
    return 0;
}

/* The key for a header's kid (NULL: none named). A single key serves a
 * token whatever its kid says when that key has none (a PEM file, a
 * secret); otherwise the kid must match, and only a set of one key serves a
 * token that names none. */
static const orderd_jwt_key_t *pick_key(const orderd_jwt_verifier_t *v, const char *kid)
{
    if (v->nkeys == 1 && (kid == NULL || v->keys[0].kid[0] == '\0' || strcmp(kid, v->keys[0].kid) == 0))
        return &v->keys[0];
    for (size_t i = 0; kid != NULL && i < v->nkeys; ++i)
        if (strcmp(kid, v->keys[i].kid) == 0)
            return &v->keys[i];
    return NULL;
}

/* The header: the key its kid names and whose algorithm its alg is. */
static orderd_jwt_result_t check_header(const orderd_jwt_verifier_t *v, yajl_val h, const orderd_jwt_key_t **key)
{
    yajl_val alg, kid, typ, crit;
    if (member(h, "alg", &alg) != 0 || member(h, "kid", &kid) != 0 || member(h, "typ", &typ) != 0 ||
        member(h, "crit", &crit) != 0 || !YAJL_IS_STRING(alg) || (kid != NULL && !YAJL_IS_STRING(kid)))
        return ORDERD_JWT_MALFORMED;
    if (strcasecmp(alg->u.string, "none") == 0)
        return ORDERD_JWT_ALG_NONE;
    /* no extension is understood, so a critical one must be refused (RFC 7515 4.1.11); libjwt takes typ JWT only */
    if (crit != NULL || (typ != NULL && (!YAJL_IS_STRING(typ) || strcasecmp(typ->u.string, "JWT") != 0)))
        return ORDERD_JWT_UNSUPPORTED;
    if ((*key = pick_key(v, kid != NULL ? kid->u.string : NULL)) == NULL)
        return ORDERD_JWT_UNKNOWN_KID;
    /* alg names are case-sensitive (RFC 7515 4.1.1), where libjwt would take "rs256" */
    if (strcmp(alg->u.string, jwt_alg_str((*key)->alg)) != 0)
        return ORDERD_JWT_ALG_MISMATCH;
    return ORDERD_JWT_OK;
}

/* Whether aud (a string or an array of strings) holds the audience. */
static int audience_holds(yajl_val aud, const char *want)
{
    if (YAJL_IS_STRING(aud))
        return strcmp(aud->u.string, want) == 0;
    for (size_t i = 0; YAJL_IS_ARRAY(aud) && i < aud->u.array.len; ++i)
        if (YAJL_IS_STRING(aud->u.array.values[i]) && strcmp(aud->u.array.values[i]->u.string, want) == 0)
            return 1;
    return 0;
}

/* When a token may be used: exp, and nbf if it has one (NumericDates). */
typedef struct times {
    double exp, nbf;
    int has_nbf;
} times_t;

static orderd_jwt_result_t check_times(const orderd_jwt_verifier_t *v, const times_t *t, int64_t now_s)
{
    /* "on or after" exp is too late (RFC 7519 4.1.4); leeway for the clocks */
    if ((double)(now_s - v->leeway_s) >= t->exp)
        return ORDERD_JWT_EXPIRED;
    if (t->has_nbf && (double)(now_s + v->leeway_s) < t->nbf)
        return ORDERD_JWT_NOT_YET_VALID;
    return ORDERD_JWT_OK;
}

/* The claims of a token whose signature holds; its times go to *t. */
static orderd_jwt_result_t check_claims(const orderd_jwt_verifier_t *v, yajl_val c, int64_t now_s, char *user,
                                        size_t user_size, size_t *user_len, times_t *t)
{
    yajl_val exp, nbf, iss, aud, sub;
    if (member(c, "exp", &exp) != 0 || member(c, "nbf", &nbf) != 0 || member(c, "iss", &iss) != 0 ||
        member(c, "aud", &aud) != 0 || member(c, v->user_claim, &sub) != 0)
        return ORDERD_JWT_MALFORMED;
    if (exp == NULL || numeric_date(exp, &t->exp) != 0)
        return ORDERD_JWT_NO_EXP;
    t->has_nbf = nbf != NULL;
    if (nbf != NULL && numeric_date(nbf, &t->nbf) != 0)
        return ORDERD_JWT_NOT_YET_VALID;
    orderd_jwt_result_t ret = check_times(v, t, now_s);
    if (ret != ORDERD_JWT_OK)
        return ret;
    if (!YAJL_IS_STRING(iss) || strcmp(iss->u.string, v->issuer) != 0)
        return ORDERD_JWT_ISSUER;
    if (!audience_holds(aud, v->audience))
        return ORDERD_JWT_AUDIENCE;
    size_t n = YAJL_IS_STRING(sub) ? strlen(sub->u.string) : 0;
    if (n == 0 || n >= user_size)
        return ORDERD_JWT_NO_USER;
    memcpy(user, sub->u.string, n + 1);
    *user_len = n;
    return ORDERD_JWT_OK;
}

/* --- the signature --- */

/* The first look, with the public key parsed at load: libjwt 1.10 parses the
 * PEM again for every token (some 600 us in OpenSSL 3.0, against 40 us for
 * an RS256 check), and a flood of forged tokens must not cost that each.
 * It only ever refuses: a token it passes still has to pass libjwt. */
static orderd_jwt_result_t first_look(const orderd_jwt_key_t *key, const char *input, size_t input_len,
                                      const char *sig_b64, size_t sig_len)
{
    unsigned char sig[ORDERD_BASE64URL_DECODED_MAX(SIG_B64_MAX)], der[80];
    const unsigned char *s = sig;
    ssize_t n;
    if (key->pkey == NULL) /* HS256: libjwt's HMAC is cheap */
        return ORDERD_JWT_OK;
    if (sig_len > SIG_B64_MAX || (n = orderd_base64url_decode(sig_b64, sig_len, sig, sizeof(sig))) <= 0)
        return ORDERD_JWT_BAD_SIGNATURE;
    if (key->alg == JWT_ALG_ES256) {
        /* JWS writes r || s (RFC 7518 3.4); OpenSSL verifies the DER SEQUENCE of them */
        ECDSA_SIG *es = n == 64 ? ECDSA_SIG_new() : NULL;
        BIGNUM *r = es != NULL ? BN_bin2bn(sig, 32, NULL) : NULL,
               *ss = r != NULL ? BN_bin2bn(sig + 32, 32, NULL) : NULL;
        unsigned char *p = der;
        if (ss == NULL || ECDSA_SIG_set0(es, r, ss) != 1 || i2d_ECDSA_SIG(es, NULL) > (int)sizeof(der)) {
            BN_free(r);
            BN_free(ss);
            ECDSA_SIG_free(es);
            return n == 64 ? ORDERD_JWT_ENOMEM : ORDERD_JWT_BAD_SIGNATURE;
        }
        n = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es); /* r and s with it */
        s = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return ORDERD_JWT_ENOMEM;
    int ok = n > 0 && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
             EVP_DigestVerify(ctx, s, (size_t)n, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? ORDERD_JWT_OK : ORDERD_JWT_BAD_SIGNATURE;
}

/* libjwt's own check of the signature, with the key's algorithm forced. */
static orderd_jwt_result_t check_signature(const orderd_jwt_key_t *key, const char *token, size_t len)
{
    char text[ORDERD_JWT_TOKEN_MAX + 1];
    jwt_t *jwt = NULL;
    memcpy(text, token, len);
    text[len] = '\0';
    int r = jwt_decode(&jwt, text, key->material, (int)key->len);
    /* What libjwt verified with is what the header it parsed said: were that
     * not the key's algorithm (two headers that two JSON parsers read apart),
     * the signature would prove nothing. */
    orderd_jwt_result_t ret = r == ENOMEM                    ? ORDERD_JWT_ENOMEM
                              : r != 0                       ? ORDERD_JWT_BAD_SIGNATURE
                              : jwt_get_alg(jwt) != key->alg ? ORDERD_JWT_ALG_MISMATCH
                                                             : ORDERD_JWT_OK;
    jwt_free(jwt);
    return ret;
}

/* --- the cache of verified tokens --- */

typedef struct cache_entry {
    uint64_t generation; /* the verifier's; 0: empty */
    unsigned char digest[SHA256_DIGEST_LENGTH];
    times_t times;
    size_t user_len;
    char user[ORDERD_USER_ID_MAX + 1];
} cache_entry_t;

struct orderd_jwt_cache {
    cache_entry_t slots[ORDERD_JWT_CACHE_SLOTS];
};

orderd_jwt_cache_t *orderd_jwt_cache_new(void) { return calloc(1, sizeof(orderd_jwt_cache_t)); }

void orderd_jwt_cache_free(orderd_jwt_cache_t *c) { free(c); }

/* The whole check, without the cache; *t gets the token's times. */
static orderd_jwt_result_t verify(const orderd_jwt_verifier_t *v, const char *token, size_t len, int64_t now_s,
                                  char *user, size_t user_size, size_t *user_len, times_t *t)
{
    part_t header, payload = {.json = NULL}; /* 12 KiB of the worker's 8 MiB stack */
    const orderd_jwt_key_t *key = NULL;
    const char *end = token + len, *dot1, *dot2;
    if (memchr(token, '\0', len) != NULL || (dot1 = memchr(token, '.', len)) == NULL ||
        (dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1))) == NULL ||
        memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
        return ORDERD_JWT_MALFORMED;
    if (decode_part(token, (size_t)(dot1 - token), &header) != 0)
        return ORDERD_JWT_MALFORMED;
    orderd_jwt_result_t ret = check_header(v, header.json, &key);
    yajl_tree_free(header.json);
    if (ret != ORDERD_JWT_OK)
        return ret;
    if (dot2 + 1 == end)
        return ORDERD_JWT_BAD_SIGNATURE; /* none, where the key's algorithm needs one */
    /* the first look before the payload is parsed: a forged token costs no more */
    ret = first_look(key, token, (size_t)(dot2 - token), dot2 + 1, (size_t)(end - dot2 - 1));
    if (ret == ORDERD_JWT_OK)
        ret = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload) != 0 ? ORDERD_JWT_MALFORMED
                                                                              : check_signature(key, token, len);
    if (ret == ORDERD_JWT_OK)
        ret = check_claims(v, payload.json, now_s, user, user_size, user_len, t);
    if (payload.json != NULL)
        yajl_tree_free(payload.json);
    /* a refused signature leaves OpenSSL errors queued on this thread: none
     * must be there for the next TLS handshake to read */
    ERR_clear_error();
    return ret;
}

orderd_jwt_result_t orderd_jwt_verify(const orderd_jwt_verifier_t *v, orderd_jwt_cache_t *cache, const char *token,
                                      size_t len, int64_t now_s, char *user, size_t user_size, size_t *user_len)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    cache_entry_t *e = NULL;
    times_t t;
    if (len == 0 || len > ORDERD_JWT_TOKEN_MAX)
        return ORDERD_JWT_MALFORMED;
    if (cache != NULL && EVP_Digest(token, len, digest, NULL, EVP_sha256(), NULL) == 1) {
        e = &cache->slots[(digest[0] | (unsigned)digest[1] << 8) % ORDERD_JWT_CACHE_SLOTS];
        /* the same bytes this verifier took before: only time has moved */
        if (e->generation == v->generation && CRYPTO_memcmp(e->digest, digest, sizeof(digest)) == 0 &&
            e->user_len < user_size) {
            orderd_jwt_result_t ret = check_times(v, &e->times, now_s);
            if (ret == ORDERD_JWT_OK) {
                memcpy(user, e->user, e->user_len + 1);
                *user_len = e->user_len;
            }
            return ret;
        }
    }
    orderd_jwt_result_t ret = verify(v, token, len, now_s, user, user_size, user_len, &t);
    if (ret == ORDERD_JWT_OK && e != NULL && *user_len < sizeof(e->user)) {
        *e = (cache_entry_t){.generation = v->generation, .times = t, .user_len = *user_len};
        memcpy(e->digest, digest, sizeof(digest));
        memcpy(e->user, user, *user_len + 1);
    }
    return ret;
}

const char *orderd_jwt_result_text(orderd_jwt_result_t r)
{
    switch (r) {
    case ORDERD_JWT_OK:
        return "the token is valid";
    case ORDERD_JWT_MALFORMED:
        return "the bearer token is not a JWT: three base64url parts, a JSON object header and payload, no claim named "
               "twice";
    case ORDERD_JWT_ALG_NONE:
        return "the token is unsigned (alg none); only signed tokens are taken";
    case ORDERD_JWT_ALG_MISMATCH:
        return "the token's alg is not the algorithm of the key it names";
    case ORDERD_JWT_UNKNOWN_KID:
        return "no key has the token's kid";
    case ORDERD_JWT_UNSUPPORTED:
        return "the token's header has crit, or a typ other than JWT";
    case ORDERD_JWT_BAD_SIGNATURE:
        return "the token's signature does not verify";
    case ORDERD_JWT_NO_EXP:
        return "the token has no numeric exp claim";
    case ORDERD_JWT_EXPIRED:
        return "the token has expired";
    case ORDERD_JWT_NOT_YET_VALID:
        return "the token is not valid yet (nbf)";
    case ORDERD_JWT_ISSUER:
        return "the token's iss is not the issuer this server trusts";
    case ORDERD_JWT_AUDIENCE:
        return "the token's aud does not name this server's audience";
    case ORDERD_JWT_NO_USER:
        return "the token's user claim is missing or not 1 to 64 characters of A-Z a-z 0-9 . _ : @ -";
    case ORDERD_JWT_ENOMEM:
        return "the server is out of memory";
    }
    return "the token is refused";
}
