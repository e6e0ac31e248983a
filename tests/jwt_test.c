/* Unit tests for orderd/jwt.h: the keys (PEM, JWKS, secret) and every way
 * a token is refused. Keys are made here with OpenSSL, tokens with libjwt
 * itself or, where libjwt would not write them (two algs in one header, a
 * crit header), by hand with OpenSSL's HMAC and signatures. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "orderd/jwt.h"
#include "test_util.h"

#define ISS "https://id.example"
#define AUD "orderd"
#define SECRET "0123456789abcdef0123456789abcdef-hs256"

typedef struct keys {
    char dir[4096];
    EVP_PKEY *rsa, *rsa2, *ec, *rsa1024, *p384;
    char rsa_pub[4300], rsa2_pub[4300], ec_pub[4300], jwks[4300], secret[4300];
    char *rsa_pub_pem; /* the public key's PEM text: the would-be HMAC secret of the confusion attack */
    char *rsa_priv, *rsa2_priv, *ec_priv;
} keys_t;

static keys_t K;
static int64_t now;

/* --- making keys and tokens --- */

static char *pem_of(EVP_PKEY *k, int private)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(private ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(b, k),
                     1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    return out;
}

static void write_text(const char *path, const char *text) { test_write_file(path, text, strlen(text)); }

static void b64url(const unsigned char *in, size_t len, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v =
            (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = a[v >> 6 & 63];
        if (i + 2 < len)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

static void bn_param_b64(EVP_PKEY *k, const char *name, size_t pad, char *out)
{
    BIGNUM *bn = NULL;
    unsigned char raw[1024];
    assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
    int n = pad ? BN_bn2binpad(bn, raw, (int)pad) : BN_bn2bin(bn, raw);
    assert_true(n > 0);
    b64url(raw, (size_t)n, out);
    BN_free(bn);
}

static char *jwk_rsa(EVP_PKEY *k, const char *kid, const char *extra)
{
    char n[1400], e[16], *out = malloc(2048);
    bn_param_b64(k, OSSL_PKEY_PARAM_RSA_N, 0, n);
    bn_param_b64(k, OSSL_PKEY_PARAM_RSA_E, 0, e);
    snprintf(out, 2048, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}", kid, n, e, extra);
    return out;
}

static char *jwk_ec(EVP_PKEY *k, const char *kid)
{
    char x[64], y[64], *out = malloc(512);
    bn_param_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, 32, x);
    bn_param_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y);
    snprintf(out, 512, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\",\"use\":\"sig\"}",
             kid, x, y);
    return out;
}

/* A token from libjwt: claims as JSON, then the header's kid (NULL: none). */
static char *make(jwt_alg_t alg, const char *key, size_t key_len, const char *kid, const char *claims)
{
    jwt_t *j;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, claims), 0);
    if (kid != NULL)
        assert_int_equal(jwt_add_header(j, "kid", kid), 0);
    assert_int_equal(jwt_set_alg(j, alg, (const unsigned char *)key, (int)key_len), 0);
    char *t = jwt_encode_str(j);
    assert_non_null(t);
    jwt_free(j);
    return t;
}

/* The usual claims, with exp and nbf relative to now; extra ends with a comma or is "". */
static const char *claims(int64_t exp_in, const char *extra)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "{%s\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld}", extra,
             (long long)(now + exp_in));
    return buf;
}

static char *rs256(const char *c) { return make(JWT_ALG_RS256, K.rsa_priv, strlen(K.rsa_priv), NULL, c); }

/* header.payload signed with HMAC-SHA256 under `key`, by hand. */
static char *hand_hs256(const char *header, const char *payload, const char *key, size_t key_len)
{
    char *out = malloc(8192), sig[64];
    unsigned char mac[32];
    unsigned maclen;
    b64url((const unsigned char *)header, strlen(header), out);
    strcat(out, ".");
    b64url((const unsigned char *)payload, strlen(payload), out + strlen(out));
    HMAC(EVP_sha256(), key, (int)key_len, (unsigned char *)out, strlen(out), mac, &maclen);
    b64url(mac, maclen, sig);
    strcat(out, ".");
    strcat(out, sig);
    return out;
}

static orderd_jwt_verifier_t *verifier(const char *key_file, const char *secret_file, const char *claim)
{
    orderd_jwt_config_t cfg = {.key_file = key_file,
                               .secret_file = secret_file,
                               .issuer = ISS,
                               .audience = AUD,
                               .user_claim = claim,
                               .leeway_s = 30};
    char msg[1024];
    orderd_jwt_verifier_t *v = orderd_jwt_verifier_new(&cfg, msg, sizeof(msg));
    if (v == NULL)
        fail_msg("verifier: %s", msg);
    return v;
}

static orderd_jwt_result_t check(const orderd_jwt_verifier_t *v, const char *token, char user[65])
{
    size_t len = 0;
    user[0] = '\0';
    orderd_jwt_result_t r = orderd_jwt_verify(v, NULL, token, strlen(token), now, user, 65, &len);
    if (r == ORDERD_JWT_OK)
        assert_int_equal(len, strlen(user));
    return r;
}

static void expect_result(const orderd_jwt_verifier_t *v, char *token, orderd_jwt_result_t want)
{
    char user[65];
    orderd_jwt_result_t got = check(v, token, user);
    if (got != want)
        fail_msg("token %.80s...: result %d (%s), want %d (%s)", token, got, orderd_jwt_result_text(got), want,
                 orderd_jwt_result_text(want));
    free(token);
}

static int setup(void **state)
{
    now = (int64_t)time(NULL);
    test_tmpdir(K.dir, sizeof(K.dir), "jwt");
    K.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    K.rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    K.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    K.rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    K.p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    assert_true(K.rsa && K.rsa2 && K.ec && K.rsa1024 && K.p384);
    K.rsa_pub_pem = pem_of(K.rsa, 0);
    K.rsa_priv = pem_of(K.rsa, 1);
    K.rsa2_priv = pem_of(K.rsa2, 1);
    K.ec_priv = pem_of(K.ec, 1);
    snprintf(K.rsa_pub, sizeof(K.rsa_pub), "%s/rsa.pem", K.dir);
    write_text(K.rsa_pub, K.rsa_pub_pem);
    snprintf(K.rsa2_pub, sizeof(K.rsa2_pub), "%s/rsa2.pem", K.dir);
    char *rsa2_pem = pem_of(K.rsa2, 0);
    write_text(K.rsa2_pub, rsa2_pem);
    free(rsa2_pem);
    snprintf(K.ec_pub, sizeof(K.ec_pub), "%s/ec.pem", K.dir);
    char *ec_pem = pem_of(K.ec, 0);
    write_text(K.ec_pub, ec_pem);
    free(ec_pem);
    snprintf(K.secret, sizeof(K.secret), "%s/secret", K.dir);
    write_text(K.secret, SECRET "\n"); /* the newline is not part of the secret */
    /* a JWKS: RSA kid r1, EC kid e1, and keys orderd skips */
    char *r1 = jwk_rsa(K.rsa, "r1", ""), *e1 = jwk_ec(K.ec, "e1"), *small = jwk_rsa(K.rsa1024, "small", "");
    char *enc = jwk_rsa(K.rsa2, "enc", ",\"use\":\"enc\""), *ps = jwk_rsa(K.rsa2, "ps", ",\"alg\":\"PS256\"");
    char *jwks = malloc(16384);
    snprintf(jwks, 16384,
             "{\"keys\":[%s,%s,%s,%s,%s,{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"AAAA\"},{\"kty\":\"EC\",\"crv\":\"P-"
             "256\",\"kid\":\"off\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             r1, e1, small, enc, ps, "AQ", "AQ");
    snprintf(K.jwks, sizeof(K.jwks), "%s/keys.jwks", K.dir);
    write_text(K.jwks, jwks);
    free(r1), free(e1), free(small), free(enc), free(ps), free(jwks);
    return 0;
}

static int teardown(void **state)
{
    EVP_PKEY_free(K.rsa), EVP_PKEY_free(K.rsa2), EVP_PKEY_free(K.ec), EVP_PKEY_free(K.rsa1024);
    EVP_PKEY_free(K.p384);
    free(K.rsa_pub_pem), free(K.rsa_priv), free(K.rsa2_priv), free(K.ec_priv);
    test_rmtree(K.dir);
    return 0;
}

/* --- good tokens --- */

static void test_good_tokens(void **state)
{
    char user[65];
    orderd_jwt_verifier_t *rsa = verifier(K.rsa_pub, NULL, NULL), *ec = verifier(K.ec_pub, NULL, NULL);
    orderd_jwt_verifier_t *hs = verifier(NULL, K.secret, NULL);
    char *t = rs256(claims(600, ""));
    assert_int_equal(check(rsa, t, user), ORDERD_JWT_OK);
    assert_string_equal(user, "alice");
    free(t);
    t = make(JWT_ALG_ES256, K.ec_priv, strlen(K.ec_priv), NULL, claims(600, "\"nbf\":0,"));
    assert_int_equal(check(ec, t, user), ORDERD_JWT_OK);
    assert_string_equal(user, "alice");
    free(t);
    t = make(JWT_ALG_HS256, SECRET, strlen(SECRET), NULL, claims(600, ""));
    assert_int_equal(check(hs, t, user), ORDERD_JWT_OK);
    free(t);
    /* aud as an array that holds ours; a fractional exp */
    t = rs256("{\"sub\":\"bob\",\"iss\":\"" ISS "\",\"aud\":[\"other\",\"" AUD "\"],\"exp\":9999999999.5}");
    assert_int_equal(check(rsa, t, user), ORDERD_JWT_OK);
    assert_string_equal(user, "bob");
    free(t);
    orderd_jwt_verifier_release(rsa), orderd_jwt_verifier_release(ec), orderd_jwt_verifier_release(hs);
}

static void test_user_claim_configured(void **state)
{
    char user[65];
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, "uid");
    char *t = rs256(claims(600, "\"uid\":\"customer-7\","));
    assert_int_equal(check(v, t, user), ORDERD_JWT_OK);
    assert_string_equal(user, "customer-7");
    free(t);
    expect_result(v, rs256(claims(600, "")), ORDERD_JWT_NO_USER); /* sub is there, uid is not */
    expect_result(v, rs256(claims(600, "\"uid\":7,")), ORDERD_JWT_NO_USER);
    expect_result(v, rs256(claims(600, "\"uid\":\"\",")), ORDERD_JWT_NO_USER);
    char longer[200];
    snprintf(longer, sizeof(longer), "\"uid\":\"%065d\",", 0); /* 65 characters: past the caller's 64 */
    expect_result(v, rs256(claims(600, longer)), ORDERD_JWT_NO_USER);
    orderd_jwt_verifier_release(v);
}

/* --- each refusal --- */

static void test_bad_signature(void **state)
{
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, NULL);
    char *t = rs256(claims(600, ""));
    char *last = t + strlen(t) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    expect_result(v, t, ORDERD_JWT_BAD_SIGNATURE);
    /* signed by another RSA key */
    expect_result(v, make(JWT_ALG_RS256, K.rsa2_priv, strlen(K.rsa2_priv), NULL, claims(600, "")),
                  ORDERD_JWT_BAD_SIGNATURE);
    /* the payload changed after signing: another user */
    t = rs256(claims(600, ""));
    char *forged = hand_hs256("{\"alg\":\"RS256\"}", "{\"sub\":\"mallory\"}", "x", 1);
    char *dot = strchr(t, '.'), *dot2 = strchr(dot + 1, '.'), *fdot = strchr(forged, '.');
    char spliced[8192];
    snprintf(spliced, sizeof(spliced), "%.*s.%.*s%s", (int)(dot - t), t, (int)(strchr(fdot + 1, '.') - fdot - 1),
             fdot + 1, dot2);
    free(forged);
    free(t);
    expect_result(v, strdup(spliced), ORDERD_JWT_BAD_SIGNATURE);
    /* no signature at all */
    t = rs256(claims(600, ""));
    *(strrchr(t, '.') + 1) = '\0';
    expect_result(v, t, ORDERD_JWT_BAD_SIGNATURE);
    orderd_jwt_verifier_release(v);
}

static void test_times(void **state)
{
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, NULL);
    expect_result(v, rs256(claims(-100, "")), ORDERD_JWT_EXPIRED);
    expect_result(v, rs256(claims(-30, "")), ORDERD_JWT_EXPIRED); /* exp + leeway == now: too late */
    expect_result(v, rs256(claims(-10, "")), ORDERD_JWT_OK);      /* within the 30 s leeway */
    char nbf[64];
    snprintf(nbf, sizeof(nbf), "\"nbf\":%lld,", (long long)(now + 100));
    expect_result(v, rs256(claims(600, nbf)), ORDERD_JWT_NOT_YET_VALID);
    snprintf(nbf, sizeof(nbf), "\"nbf\":%lld,", (long long)(now + 20));
    expect_result(v, rs256(claims(600, nbf)), ORDERD_JWT_OK);
    expect_result(v, rs256(claims(600, "\"nbf\":\"soon\",")), ORDERD_JWT_NOT_YET_VALID);
    expect_result(v, rs256("{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}"), ORDERD_JWT_NO_EXP);
    expect_result(v, rs256("{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"never\"}"),
                  ORDERD_JWT_NO_EXP);
    orderd_jwt_verifier_release(v);
}

static void test_issuer_and_audience(void **state)
{
    char c[512];
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, NULL);
    long long exp = (long long)(now + 600);
    snprintf(c, sizeof(c), "{\"sub\":\"a\",\"iss\":\"" ISS "\",\"aud\":\"billing\",\"exp\":%lld}", exp);
    expect_result(v, rs256(c), ORDERD_JWT_AUDIENCE);
    snprintf(c, sizeof(c), "{\"sub\":\"a\",\"iss\":\"" ISS "\",\"aud\":[\"billing\",\"orderd2\"],\"exp\":%lld}", exp);
    expect_result(v, rs256(c), ORDERD_JWT_AUDIENCE);
    snprintf(c, sizeof(c), "{\"sub\":\"a\",\"iss\":\"" ISS "\",\"exp\":%lld}", exp);
    expect_result(v, rs256(c), ORDERD_JWT_AUDIENCE);
    snprintf(c, sizeof(c), "{\"sub\":\"a\",\"iss\":\"https://evil.example\",\"aud\":\"" AUD "\",\"exp\":%lld}", exp);
    expect_result(v, rs256(c), ORDERD_JWT_ISSUER);
    snprintf(c, sizeof(c), "{\"sub\":\"a\",\"aud\":\"" AUD "\",\"exp\":%lld}", exp);
    expect_result(v, rs256(c), ORDERD_JWT_ISSUER);
    orderd_jwt_verifier_release(v);
}

static void test_alg_none(void **state)
{
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, NULL), *hs = verifier(NULL, K.secret, NULL);
    /* libjwt writes an unsigned token as header.payload. */
    expect_result(v, make(JWT_ALG_NONE, NULL, 0, NULL, claims(600, "")), ORDERD_JWT_ALG_NONE);
    expect_result(hs, make(JWT_ALG_NONE, NULL, 0, NULL, claims(600, "")), ORDERD_JWT_ALG_NONE);
    /* "None" with a signature part */
    expect_result(v, hand_hs256("{\"alg\":\"None\"}", claims(600, ""), "x", 1), ORDERD_JWT_ALG_NONE);
    orderd_jwt_verifier_release(v), orderd_jwt_verifier_release(hs);
}

static void test_rs256_to_hs256_confusion(void **state)
{
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, NULL);
    /* HS256 "signed" with the RSA public key's PEM as the HMAC secret */
    char *t = make(JWT_ALG_HS256, K.rsa_pub_pem, strlen(K.rsa_pub_pem), NULL, claims(600, ""));
    /* libjwt alone takes it (it trusts the header's alg): the attack is real */
    jwt_t *j = NULL;
    assert_int_equal(jwt_decode(&j, t, (const unsigned char *)K.rsa_pub_pem, (int)strlen(K.rsa_pub_pem)), 0);
    jwt_free(j);
    expect_result(v, t, ORDERD_JWT_ALG_MISMATCH);
    /* the same with two algs in one header: yajl reads the first, jansson the last */
    expect_result(
        v, hand_hs256("{\"alg\":\"RS256\",\"alg\":\"HS256\"}", claims(600, ""), K.rsa_pub_pem, strlen(K.rsa_pub_pem)),
        ORDERD_JWT_MALFORMED);
    /* alg names are case-sensitive */
    expect_result(v, hand_hs256("{\"alg\":\"rs256\"}", claims(600, ""), "x", 1), ORDERD_JWT_ALG_MISMATCH);
    /* an ES256 header against the RSA key */
    expect_result(v, make(JWT_ALG_ES256, K.ec_priv, strlen(K.ec_priv), NULL, claims(600, "")), ORDERD_JWT_ALG_MISMATCH);
    orderd_jwt_verifier_release(v);
}

static void test_jwks_kid(void **state)
{
    char user[65], msg[1024];
    orderd_jwt_config_t cfg = {.key_file = K.jwks, .issuer = ISS, .audience = AUD, .leeway_s = 0};
    orderd_jwt_verifier_t *v = orderd_jwt_verifier_new(&cfg, msg, sizeof(msg));
    if (v == NULL)
        fail_msg("%s", msg);
    /* two keys taken, five skipped, each said why */
    assert_non_null(strstr(msg, "2 keys from"));
    assert_non_null(strstr(msg, "kid r1 RS256, kid e1 ES256"));
    assert_non_null(strstr(msg, "skipped 5"));
    assert_non_null(strstr(msg, "kid small: an RSA key of 1024 bits"));
    assert_non_null(strstr(msg, "kid enc: use enc"));
    assert_non_null(strstr(msg, "kid ps: alg PS256"));
    assert_non_null(strstr(msg, "kid h: kty oct"));
    assert_non_null(strstr(msg, "kid off: x and y are no point of P-256"));
    char *t = make(JWT_ALG_ES256, K.ec_priv, strlen(K.ec_priv), "e1", claims(600, ""));
    assert_int_equal(check(v, t, user), ORDERD_JWT_OK);
    free(t);
    t = make(JWT_ALG_RS256, K.rsa_priv, strlen(K.rsa_priv), "r1", claims(600, ""));
    assert_int_equal(check(v, t, user), ORDERD_JWT_OK);
    free(t);
    /* the kid of the RSA key on an ES256 token; the EC key's on an RS256 one */
    expect_result(v, make(JWT_ALG_ES256, K.ec_priv, strlen(K.ec_priv), "r1", claims(600, "")), ORDERD_JWT_ALG_MISMATCH);
    expect_result(v, make(JWT_ALG_RS256, K.rsa_priv, strlen(K.rsa_priv), "e1", claims(600, "")),
                  ORDERD_JWT_ALG_MISMATCH);
    /* signed by a key the set does not hold, under a kid it does */
    expect_result(v, make(JWT_ALG_RS256, K.rsa2_priv, strlen(K.rsa2_priv), "r1", claims(600, "")),
                  ORDERD_JWT_BAD_SIGNATURE);
    expect_result(v, make(JWT_ALG_RS256, K.rsa2_priv, strlen(K.rsa2_priv), "enc", claims(600, "")),
                  ORDERD_JWT_UNKNOWN_KID);
    expect_result(v, make(JWT_ALG_RS256, K.rsa_priv, strlen(K.rsa_priv), NULL, claims(600, "")),
                  ORDERD_JWT_UNKNOWN_KID); /* no kid, two keys */
    orderd_jwt_verifier_release(v);
}

static void test_malformed(void **state)
{
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, NULL);
    static const char *const bad[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.c2ln",
        "e30.e30.c2ln",                                                     /* {} header: no alg */
        "bm90IGpzb24.e30.c2ln",                                             /* "not json" */
        "WyJSUzI1NiJd.e30.c2ln",                                            /* ["RS256"]: no object */
        "eyJhbGciOiJSUzI1NiIsImtpZCI6N30.e30.c2ln",                         /* kid 7 */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", /* an
                                                                               operator's
                                                                               token
                                                                             */
    };
    char user[65];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        if (check(v, bad[i], user) != ORDERD_JWT_MALFORMED)
            fail_msg("%s: not MALFORMED", bad[i]);
    /* a claim named twice (libjwt would not write it: signed by hand, and the same by hand once is good) */
    orderd_jwt_verifier_t *hs = verifier(NULL, K.secret, NULL);
    /* a signed payload that is no JSON object */
    expect_result(hs, hand_hs256("{\"alg\":\"HS256\"}", "[1]", SECRET, strlen(SECRET)), ORDERD_JWT_MALFORMED);
    expect_result(hs, hand_hs256("{\"alg\":\"HS256\"}", "{\"a\":", SECRET, strlen(SECRET)), ORDERD_JWT_MALFORMED);
    const char *once = "{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":9999999999}";
    const char *twice =
        "{\"sub\":\"alice\",\"sub\":\"bob\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":9999999999}";
    expect_result(hs, hand_hs256("{\"alg\":\"HS256\"}", once, SECRET, strlen(SECRET)), ORDERD_JWT_OK);
    expect_result(hs, hand_hs256("{\"alg\":\"HS256\"}", twice, SECRET, strlen(SECRET)), ORDERD_JWT_MALFORMED);
    orderd_jwt_verifier_release(hs);
    /* crit, typ */
    expect_result(v, hand_hs256("{\"alg\":\"RS256\",\"crit\":[\"exp\"]}", claims(600, ""), "x", 1),
                  ORDERD_JWT_UNSUPPORTED);
    expect_result(v, hand_hs256("{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", claims(600, ""), "x", 1),
                  ORDERD_JWT_UNSUPPORTED);
    /* longer than ORDERD_JWT_TOKEN_MAX, refused unread */
    char *huge = malloc(ORDERD_JWT_TOKEN_MAX + 2);
    memset(huge, 'A', ORDERD_JWT_TOKEN_MAX + 1);
    huge[10] = '.', huge[20] = '.', huge[ORDERD_JWT_TOKEN_MAX + 1] = '\0';
    expect_result(v, huge, ORDERD_JWT_MALFORMED);
    /* every result has words, none of them the key */
    for (int r = ORDERD_JWT_OK; r <= ORDERD_JWT_ENOMEM; ++r) {
        const char *s = orderd_jwt_result_text((orderd_jwt_result_t)r);
        assert_true(strlen(s) > 10);
        assert_null(strstr(s, "BEGIN"));
    }
    orderd_jwt_verifier_release(v);
}

/* --- loading keys --- */

static void expect_load_error(const char *key_file, const char *secret_file, const char *want)
{
    char msg[1024];
    orderd_jwt_config_t cfg = {.key_file = key_file, .secret_file = secret_file, .issuer = ISS, .audience = AUD};
    orderd_jwt_verifier_t *v = orderd_jwt_verifier_new(&cfg, msg, sizeof(msg));
    if (v != NULL || strstr(msg, want) == NULL || strchr(msg, '\n') != NULL)
        fail_msg("%s: loaded or said \"%s\", want \"%s\"", key_file ? key_file : secret_file, msg, want);
    assert_null(strstr(msg, SECRET));
}

static void test_load_errors(void **state)
{
    char path[4400];
    expect_load_error("/nonexistent/key.pem", NULL, "No such file");
    expect_load_error(NULL, "/nonexistent/secret", "--jwt-secret-file /nonexistent/secret");
    snprintf(path, sizeof(path), "%s/junk", K.dir);
    write_text(path, "this is no key\n");
    expect_load_error(path, NULL, "neither a PEM public key");
    char *pem = pem_of(K.rsa1024, 0);
    write_text(path, pem);
    free(pem);
    expect_load_error(path, NULL, "an RSA key of 1024 bits");
    pem = pem_of(K.p384, 0);
    write_text(path, pem);
    free(pem);
    expect_load_error(path, NULL, "secp384r1");
    write_text(path, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}");
    expect_load_error(path, NULL, "no key orderd can use");
    write_text(path, "{\"keys\": 7}");
    expect_load_error(path, NULL, "not a JWKS");
    write_text(path, "{\"keys\":[");
    expect_load_error(path, NULL, "not a JWKS");
    write_text(path, "0123456789abcdef0123456789abcde\n"); /* 31 bytes */
    expect_load_error(NULL, path, "at least 32 bytes");
    write_text(path, SECRET "\r\n");
    orderd_jwt_verifier_t *v = verifier(NULL, path, NULL);
    char user[65], *t = make(JWT_ALG_HS256, SECRET, strlen(SECRET), NULL, claims(600, ""));
    assert_int_equal(check(v, t, user), ORDERD_JWT_OK); /* the CRLF was not part of it */
    free(t);
    orderd_jwt_verifier_release(v);
}

/* A verified token is remembered per cache: the next check only looks at
 * the clock, and never serves another verifier, even one made at the same
 * address after the first was freed. */
static void test_cache(void **state)
{
    orderd_jwt_cache_t *cache = orderd_jwt_cache_new();
    assert_non_null(cache);
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, NULL);
    char nbf[64], user[65];
    size_t len;
    snprintf(nbf, sizeof(nbf), "\"nbf\":%lld,", (long long)(now + 100));
    char *t = rs256(claims(600, nbf)), *es = make(JWT_ALG_ES256, K.ec_priv, strlen(K.ec_priv), NULL, claims(600, ""));
    size_t n = strlen(t);
    for (int i = 0; i < 3; ++i) { /* the first fills the entry, the others find it */
        assert_int_equal(orderd_jwt_verify(v, cache, t, n, now + 200, user, sizeof(user), &len), ORDERD_JWT_OK);
        assert_string_equal(user, "alice");
        assert_int_equal(len, 5);
    }
    /* the clock still counts for a cached token, both ways */
    assert_int_equal(orderd_jwt_verify(v, cache, t, n, now + 700, user, sizeof(user), &len), ORDERD_JWT_EXPIRED);
    assert_int_equal(orderd_jwt_verify(v, cache, t, n, now, user, sizeof(user), &len), ORDERD_JWT_NOT_YET_VALID);
    /* a buffer too small for the cached user: the full check says so */
    assert_int_equal(orderd_jwt_verify(v, cache, t, n, now + 200, user, 3, &len), ORDERD_JWT_NO_USER);
    /* a refused token is not remembered as good */
    for (int i = 0; i < 2; ++i)
        assert_int_equal(orderd_jwt_verify(v, cache, es, strlen(es), now, user, sizeof(user), &len),
                         ORDERD_JWT_ALG_MISMATCH);
    /* other keys, perhaps at the freed verifier's very address */
    orderd_jwt_verifier_release(v);
    v = verifier(K.rsa2_pub, NULL, NULL);
    assert_int_equal(orderd_jwt_verify(v, cache, t, n, now + 200, user, sizeof(user), &len), ORDERD_JWT_BAD_SIGNATURE);
    orderd_jwt_verifier_release(v);
    free(t);
    free(es);
    orderd_jwt_cache_free(cache);
    orderd_jwt_cache_free(NULL);
}

/* Worker threads verify with one verifier at once (the OpenSSL keys in it
 * shared), each with its own cache, while references come and go: what
 * make tsan checks. */
typedef struct worker_arg {
    orderd_jwt_verifier_t *v;
    const char *good, *forged;
    int failures;
} worker_arg_t;

static void *verify_many(void *p)
{
    worker_arg_t *a = p;
    orderd_jwt_cache_t *cache = orderd_jwt_cache_new();
    char user[65];
    size_t len;
    for (int i = 0; i < 200; ++i) {
        orderd_jwt_cache_t *c = i % 2 ? cache : NULL;
        a->failures +=
            orderd_jwt_verify(a->v, c, a->good, strlen(a->good), now, user, sizeof(user), &len) != ORDERD_JWT_OK;
        a->failures += orderd_jwt_verify(a->v, c, a->forged, strlen(a->forged), now, user, sizeof(user), &len) !=
                       ORDERD_JWT_BAD_SIGNATURE;
    }
    orderd_jwt_cache_free(cache);
    orderd_jwt_verifier_release(a->v);
    return NULL;
}

static void test_threads(void **state)
{
    orderd_jwt_config_t cfg = {.key_file = K.jwks, .issuer = ISS, .audience = AUD, .leeway_s = 0};
    char msg[1024];
    orderd_jwt_verifier_t *v = orderd_jwt_verifier_new(&cfg, msg, sizeof(msg));
    assert_non_null(v);
    char *rs = make(JWT_ALG_RS256, K.rsa_priv, strlen(K.rsa_priv), "r1", claims(600, ""));
    char *es = make(JWT_ALG_ES256, K.ec_priv, strlen(K.ec_priv), "e1", claims(600, ""));
    char *forged = strdup(es);
    forged[strlen(forged) - 3] = forged[strlen(forged) - 3] == 'A' ? 'B' : 'A';
    worker_arg_t args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; ++i) {
        args[i] = (worker_arg_t){orderd_jwt_verifier_retain(v), i % 2 ? rs : es, forged, 0};
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, &args[i]), 0);
    }
    orderd_jwt_verifier_release(v); /* the last of the workers frees it */
    for (int i = 0; i < 4; ++i) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
    free(rs), free(es), free(forged);
}

static void test_references(void **state)
{
    orderd_jwt_verifier_t *v = verifier(K.rsa_pub, NULL, NULL);
    assert_ptr_equal(orderd_jwt_verifier_retain(v), v);
    orderd_jwt_verifier_release(v);
    char user[65], *t = rs256(claims(600, ""));
    assert_int_equal(check(v, t, user), ORDERD_JWT_OK); /* still held once */
    free(t);
    orderd_jwt_verifier_release(v);
    orderd_jwt_verifier_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_tokens),
        cmocka_unit_test(test_user_claim_configured),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_rs256_to_hs256_confusion),
        cmocka_unit_test(test_jwks_kid),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_references),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
