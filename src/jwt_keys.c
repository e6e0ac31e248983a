/*
 * The keys of --user-auth jwt: a PEM public key, a JWKS file or an HS256
 * secret, each turned into what libjwt's jwt_decode takes (a
 * SubjectPublicKeyInfo PEM, or the secret's bytes) with the one algorithm
 * that key may verify. libjwt 1.10 reads no JWKS, so a JWK's RSA (n, e) or
 * P-256 (x, y) becomes an EVP_PKEY through OpenSSL 3's EVP_PKEY_fromdata and
 * is written out as PEM; the signature checks stay libjwt's.
 */
#include "orderd/jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <yajl/yajl_tree.h>

#include "internal/base64url.h"
#include "internal/jwt_keys.h"
#include "internal/text.h"

/* A modulus of 8192 bits, base64url: 1366 characters; anything longer is no key orderd takes. */
#define JWK_FIELD_MAX 2048

/* The whole file, NUL-terminated, in *out (malloc'd). 0, or -1 with the reason in n. */
static int read_file(const char *flag, const char *path, char **out, size_t *len, orderd_text_t *n)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        orderd_text_put(n, "%s %s: %s", flag, path, strerror(errno));
        return -1;
    }
    char *buf = malloc(ORDERD_JWT_FILE_MAX + 1);
    size_t got = buf != NULL ? fread(buf, 1, ORDERD_JWT_FILE_MAX + 1, f) : 0;
    int bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad || got > ORDERD_JWT_FILE_MAX) {
        orderd_text_put(n, "%s %s: %s", flag, path,
                        buf == NULL ? "out of memory"
                        : bad       ? "read error"
                                    : "larger than 1 MiB");
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* Adds `pkey` as the verifier's next key: RSA of 2048 bits or more (RS256),
 * or EC on P-256 (ES256), written out as PEM. 0; 1 when the key is not one
 * of those (why in `why`); -1 when out of memory. */
static int add_public_key(orderd_jwt_verifier_t *v, EVP_PKEY *pkey, const char *kid, char *why, size_t whylen)
{
    orderd_jwt_key_t *k = &v->keys[v->nkeys];
    char group[64] = "";
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) < ORDERD_JWT_RSA_MIN_BITS) {
            snprintf(why, whylen, "an RSA key of %d bits (at least %d are needed)", EVP_PKEY_get_bits(pkey),
                     ORDERD_JWT_RSA_MIN_BITS);
            return 1;
        }
        k->alg = JWT_ALG_RS256;
    } else if (EVP_PKEY_is_a(pkey, "EC") &&
               EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1 &&
               strcmp(group, "prime256v1") == 0) {
        k->alg = JWT_ALG_ES256;
    } else {
        snprintf(why, whylen, "%s key%s%s: only RSA (RS256) and EC P-256 (ES256) keys are taken",
                 EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey) : "unknown",
                 group[0] != '\0' ? " on " : "", group);
        return 1;
    }
    BIO *mem = BIO_new(BIO_s_mem());
    char *pem;
    long pem_len;
    if (mem == NULL || PEM_write_bio_PUBKEY(mem, pkey) != 1 || (pem_len = BIO_get_mem_data(mem, &pem)) <= 0 ||
        (k->material = malloc((size_t)pem_len)) == NULL) {
        BIO_free(mem);
        return -1;
    }
    memcpy(k->material, pem, (size_t)pem_len);
    k->len = (size_t)pem_len;
    BIO_free(mem);
    if (EVP_PKEY_up_ref(pkey) != 1) {
        free(k->material);
        k->material = NULL;
        return -1;
    }
    k->pkey = pkey;
    snprintf(k->kid, sizeof(k->kid), "%s", kid);
    v->nkeys++;
    return 0;
}

/* --- JWKS (RFC 7517) --- */

/* obj's string member `name`, or NULL when it has none (or it is no string). */
static const char *member_string(yajl_val obj, const char *name)
{
    const char *path[] = {name, NULL};
    return YAJL_GET_STRING(yajl_tree_get(obj, path, yajl_t_string));
}

/* A JWK's big-endian integer member (base64url) as a BIGNUM; NULL when absent or not base64url. */
static BIGNUM *member_bn(yajl_val jwk, const char *name, size_t want_len)
{
    const char *s = member_string(jwk, name);
    unsigned char raw[ORDERD_BASE64URL_DECODED_MAX(JWK_FIELD_MAX)];
    size_t n = s != NULL ? strlen(s) : 0;
    ssize_t got = n > 0 && n <= JWK_FIELD_MAX ? orderd_base64url_decode(s, n, raw, sizeof(raw)) : -1;
    if (got <= 0 || (want_len != 0 && (size_t)got != want_len))
        return NULL;
    return BN_bin2bn(raw, (int)got, NULL);
}

static EVP_PKEY *pkey_from_params(const char *type, const OSSL_PARAM *params)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    if (pkey == NULL)
        return NULL;
    /* a point off the curve, an even modulus: refused here rather than at the first token */
    EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = check != NULL && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

/* RSA from n and e; EC P-256 from x and y (32 bytes each). NULL when they do not make a key. */
static EVP_PKEY *jwk_public_key(yajl_val jwk, const char *kty)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    /* uncompressed: 04 || x || y; the builder keeps a pointer to it until OSSL_PARAM_BLD_to_param */
    unsigned char point[65] = {0x04};
    int rsa = strcmp(kty, "RSA") == 0;
    BIGNUM *a = member_bn(jwk, rsa ? "n" : "x", rsa ? 0 : 32), *b = member_bn(jwk, rsa ? "e" : "y", rsa ? 0 : 32);
    if (bld == NULL || a == NULL || b == NULL)
        goto done;
    if (rsa) {
        if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, a) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, b) != 1)
            goto done;
    } else {
        if (BN_bn2binpad(a, point + 1, 32) != 32 || BN_bn2binpad(b, point + 33, 32) != 32 ||
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1)
            goto done;
    }
    if ((params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
        pkey = pkey_from_params(rsa ? "RSA" : "EC", params);
done:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(a);
    BN_free(b);
    return pkey;
}

/* One JWK of the set: 0 added, 1 skipped (why in `why`), -1 out of memory. */
static int add_jwk(orderd_jwt_verifier_t *v, yajl_val jwk, char *why, size_t whylen)
{
    const char *kty = member_string(jwk, "kty"), *kid = member_string(jwk, "kid");
    const char *use = member_string(jwk, "use"), *alg = member_string(jwk, "alg");
    const char *crv = member_string(jwk, "crv");
    if (!YAJL_IS_OBJECT(jwk)) {
        snprintf(why, whylen, "not a JSON object");
        return 1;
    }
    if (kid == NULL)
        kid = "";
    if (strlen(kid) > ORDERD_JWT_NAME_MAX) {
        snprintf(why, whylen, "a kid longer than %d bytes", ORDERD_JWT_NAME_MAX);
        return 1;
    }
    for (size_t i = 0; i < v->nkeys; ++i) {
        if (strcmp(v->keys[i].kid, kid) == 0) {
            snprintf(why, whylen, kid[0] != '\0' ? "the same kid as an earlier key" : "no kid, like an earlier key");
            return 1;
        }
    }
    if (v->nkeys == ORDERD_JWT_KEYS_MAX) {
        snprintf(why, whylen, "more than %d keys", ORDERD_JWT_KEYS_MAX);
        return 1;
    }
    int rsa = kty != NULL && strcmp(kty, "RSA") == 0, ec = kty != NULL && strcmp(kty, "EC") == 0;
    if (!rsa && !ec) {
        snprintf(why, whylen, "kty %s (RSA and EC are taken)", kty != NULL ? kty : "missing");
        return 1;
    }
    if (use != NULL && strcmp(use, "sig") != 0) {
        snprintf(why, whylen, "use %s", use);
        return 1;
    }
    if (alg != NULL && strcmp(alg, rsa ? "RS256" : "ES256") != 0) {
        snprintf(why, whylen, "alg %s", alg);
        return 1;
    }
    if (ec && (crv == NULL || strcmp(crv, "P-256") != 0)) {
        snprintf(why, whylen, "crv %s (P-256 is taken)", crv != NULL ? crv : "missing");
        return 1;
    }
    EVP_PKEY *pkey = jwk_public_key(jwk, kty);
    if (pkey == NULL) {
        snprintf(why, whylen, rsa ? "n and e do not make an RSA key" : "x and y are no point of P-256");
        return 1;
    }
    int ret = add_public_key(v, pkey, kid, why, whylen);
    EVP_PKEY_free(pkey);
    return ret;
}

static int load_jwks(orderd_jwt_verifier_t *v, const char *path, const char *text, orderd_text_t *n)
{
    char perr[256], why[256], skipped[1024] = "";
    orderd_text_t sk = {skipped, sizeof(skipped), 0};
    size_t nskipped = 0;
    int ret = -1;
    yajl_val root = yajl_tree_parse(text, perr, sizeof(perr));
    const char *keys_path[] = {"keys", NULL};
    yajl_val keys = yajl_tree_get(root, keys_path, yajl_t_array);
    if (keys == NULL) {
        orderd_text_put(n, "--jwt-key-file %s: not a JWKS (a JSON object with a \"keys\" array)%s%.*s", path,
                        root == NULL ? ": " : "", root == NULL ? (int)strcspn(perr, "\r\n") : 0, perr);
        goto done;
    }
    for (size_t i = 0; i < keys->u.array.len; ++i) {
        yajl_val jwk = keys->u.array.values[i];
        int r = add_jwk(v, jwk, why, sizeof(why));
        if (r < 0) {
            orderd_text_put(n, "--jwt-key-file %s: out of memory", path);
            goto done;
        }
        if (r > 0) {
            const char *kid = member_string(jwk, "kid");
            orderd_text_put(&sk, "%s key %zu%s%s: %s", nskipped++ > 0 ? ";" : "", i + 1, kid != NULL ? " kid " : "",
                            kid != NULL ? kid : "", why);
        }
    }
    if (v->nkeys == 0) {
        orderd_text_put(
            n, "--jwt-key-file %s: no key orderd can use (RSA of 2048 bits or more, or EC P-256, for signing)%s%s",
            path, nskipped > 0 ? ":" : "", skipped);
        goto done;
    }
    orderd_text_put(n, "%zu key%s from %s:", v->nkeys, v->nkeys == 1 ? "" : "s", path);
    for (size_t i = 0; i < v->nkeys; ++i)
        orderd_text_put(n, "%s kid %s %s", i > 0 ? "," : "", v->keys[i].kid[0] != '\0' ? v->keys[i].kid : "(none)",
                        jwt_alg_str(v->keys[i].alg));
    if (nskipped > 0)
        orderd_text_put(n, "; skipped %zu:%s", nskipped, skipped);
    ret = 0;
done:
    yajl_tree_free(root);
    return ret;
}

/* --- a PEM public key, a secret --- */

static int load_pem(orderd_jwt_verifier_t *v, const char *path, const char *text, size_t len, orderd_text_t *n)
{
    char why[256];
    BIO *mem = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *pkey = mem != NULL ? PEM_read_bio_PUBKEY(mem, NULL, NULL, NULL) : NULL;
    BIO_free(mem);
    if (pkey == NULL) {
        orderd_text_put(n, "--jwt-key-file %s: neither a PEM public key (BEGIN PUBLIC KEY) nor a JWKS", path);
        return -1;
    }
    int r = add_public_key(v, pkey, "", why, sizeof(why));
    EVP_PKEY_free(pkey);
    if (r != 0) {
        orderd_text_put(n, "--jwt-key-file %s: %s", path, r < 0 ? "out of memory" : why);
        return -1;
    }
    orderd_text_put(n, "%s key from %s", jwt_alg_str(v->keys[0].alg), path);
    return 0;
}

static int load_secret(orderd_jwt_verifier_t *v, const char *path, char *text, size_t len, orderd_text_t *n)
{
    if (len > 0 && text[len - 1] == '\n')
        len -= 1 + (len > 1 && text[len - 2] == '\r');
    if (len < ORDERD_JWT_SECRET_MIN) {
        orderd_text_put(n, "--jwt-secret-file %s: the secret must be at least %d bytes (256 bits)", path,
                        ORDERD_JWT_SECRET_MIN);
        return -1;
    }
    orderd_jwt_key_t *k = &v->keys[0];
    if ((k->material = malloc(len)) == NULL) {
        orderd_text_put(n, "--jwt-secret-file %s: out of memory", path);
        return -1;
    }
    memcpy(k->material, text, len);
    k->len = len;
    k->alg = JWT_ALG_HS256;
    v->nkeys = 1;
    orderd_text_put(n, "HS256 secret from %s", path);
    return 0;
}

/* --- the verifier --- */

/* Verifiers made so far: each one's generation (a verifier freed and another
 * made at its address must not look the same to a cache). */
static atomic_uint_fast64_t generations;

orderd_jwt_verifier_t *orderd_jwt_verifier_new(const orderd_jwt_config_t *cfg, char *msg, size_t msglen)
{
    orderd_text_t n = {msg, msglen, 0};
    orderd_jwt_verifier_t *v = calloc(1, sizeof(*v));
    const char *path = cfg->key_file != NULL ? cfg->key_file : cfg->secret_file;
    char *text = NULL;
    size_t len;
    int ret;
    if (msglen > 0)
        msg[0] = '\0';
    if (v == NULL) {
        orderd_text_put(&n, "out of memory");
        return NULL;
    }
    atomic_init(&v->refs, 1);
    v->generation = atomic_fetch_add_explicit(&generations, 1, memory_order_relaxed) + 1;
    snprintf(v->issuer, sizeof(v->issuer), "%s", cfg->issuer != NULL ? cfg->issuer : "");
    snprintf(v->audience, sizeof(v->audience), "%s", cfg->audience != NULL ? cfg->audience : "");
    snprintf(v->user_claim, sizeof(v->user_claim), "%s", cfg->user_claim != NULL ? cfg->user_claim : "sub");
    v->leeway_s = cfg->leeway_s;
    if (path == NULL) {
        orderd_text_put(&n, "neither --jwt-key-file nor --jwt-secret-file");
        goto fail;
    }
    if (read_file(cfg->key_file != NULL ? "--jwt-key-file" : "--jwt-secret-file", path, &text, &len, &n) != 0)
        goto fail;
    if (cfg->key_file == NULL) {
        ret = load_secret(v, path, text, len, &n);
    } else {
        size_t skip = strspn(text, " \t\r\n");
        ret = text[skip] == '{' ? load_jwks(v, path, text, &n) : load_pem(v, path, text, len, &n);
    }
    /* the secret leaves no copy behind but the verifier's */
    OPENSSL_cleanse(text, len);
    free(text);
    if (ret != 0)
        goto fail;
    return v;
fail:
    orderd_jwt_verifier_release(v);
    return NULL;
}

orderd_jwt_verifier_t *orderd_jwt_verifier_retain(orderd_jwt_verifier_t *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    return v;
}

void orderd_jwt_verifier_release(orderd_jwt_verifier_t *v)
{
    /* acq_rel: the thread freeing it sees every other thread's last use */
    if (v == NULL || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < v->nkeys; ++i) {
        OPENSSL_cleanse(v->keys[i].material, v->keys[i].len);
        free(v->keys[i].material);
        EVP_PKEY_free(v->keys[i].pkey);
    }
    free(v);
}
