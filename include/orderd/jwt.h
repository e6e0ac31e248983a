#ifndef ORDERD_JWT_H
#define ORDERD_JWT_H

/*
 * Verified users (--user-auth jwt): the keys a customer's JSON Web Token is
 * checked against, and the check itself. The signature is libjwt's; what
 * orderd adds around it is what libjwt 1.10 leaves to its caller: the
 * algorithm is the key's, never the token's (so neither `none` nor an
 * RS256 public key used as an HS256 secret gets through), a JWKS key is
 * picked by `kid`, and exp, nbf, iss and aud are checked.
 *
 * src/jwt_keys.c loads the keys (a PEM public key, a JWKS file, an HS256
 * secret); src/jwt.c verifies tokens. A verifier is immutable once made and
 * reference-counted, so a SIGHUP can hand new keys to the workers while each
 * keeps the set it holds until it takes the new one.
 *
 * What a check costs: libjwt 1.10 parses the PEM key again for every token,
 * about 600 us of CPU with OpenSSL 3.0. So a signature is first checked
 * against the key parsed once at load (some 40 us for RS256), and only a
 * token that passes goes to libjwt, whose check is the one that counts; and
 * a thread remembers the tokens it has verified (orderd_jwt_cache_t), so a
 * client's next request with the same token costs a SHA-256 and a lookup.
 */

#include <stddef.h>
#include <stdint.h>

/** Longest token read, in bytes: a longer Authorization value is refused unread. */
#define ORDERD_JWT_TOKEN_MAX 8192
/** Longest --jwt-issuer, --jwt-audience and --jwt-user-claim, in bytes. */
#define ORDERD_JWT_NAME_MAX 255
/** Most keys a JWKS file may hold. */
#define ORDERD_JWT_KEYS_MAX 64
/** Largest --jwt-key-file read (a JWKS of ORDERD_JWT_KEYS_MAX keys fits many times). */
#define ORDERD_JWT_FILE_MAX (1024 * 1024)
/** Shortest HS256 secret: RFC 7518 3.2 asks for at least the hash's 256 bits. */
#define ORDERD_JWT_SECRET_MIN 32
/** Smallest RSA modulus accepted, in bits. */
#define ORDERD_JWT_RSA_MIN_BITS 2048

/** What the flags say (--jwt-*); the strings are the caller's and must outlive orderd_jwt_verifier_new. */
typedef struct orderd_jwt_config {
    const char *key_file;    /* PEM public key (RSA: RS256, P-256: ES256) or a JWKS; NULL with secret_file */
    const char *secret_file; /* HS256 secret: the file's bytes, one trailing newline dropped; NULL with key_file */
    const char *issuer;      /* iss must be exactly this */
    const char *audience;    /* aud (a string or an array of strings) must hold exactly this */
    const char *user_claim;  /* the claim that names the user; NULL: "sub" */
    int64_t leeway_s;        /* clock skew allowed on exp and nbf, in seconds */
} orderd_jwt_config_t;

/** Why a token is refused (or ORDERD_JWT_OK). orderd_jwt_result_text says each in words. */
typedef enum {
    ORDERD_JWT_OK = 0,
    ORDERD_JWT_MALFORMED,     /* not three base64url parts, a header or payload that is no JSON object, too long */
    ORDERD_JWT_ALG_NONE,      /* alg "none": an unsigned token */
    ORDERD_JWT_ALG_MISMATCH,  /* the header's alg is not the key's */
    ORDERD_JWT_UNKNOWN_KID,   /* no key has the header's kid (or none is named and there are several) */
    ORDERD_JWT_UNSUPPORTED,   /* a crit header, or a typ other than JWT */
    ORDERD_JWT_BAD_SIGNATURE, /* libjwt refused the signature */
    ORDERD_JWT_NO_EXP,        /* no numeric exp claim */
    ORDERD_JWT_EXPIRED,       /* now >= exp + leeway */
    ORDERD_JWT_NOT_YET_VALID, /* now + leeway < nbf */
    ORDERD_JWT_ISSUER,        /* iss is missing or not --jwt-issuer */
    ORDERD_JWT_AUDIENCE,      /* aud is missing or does not hold --jwt-audience */
    ORDERD_JWT_NO_USER,       /* the user claim is missing, not a string, or longer than the caller's buffer */
    ORDERD_JWT_ENOMEM,        /* out of memory: not the token's fault */
} orderd_jwt_result_t;

typedef struct orderd_jwt_verifier orderd_jwt_verifier_t;

/** Slots of a cache: tokens one thread verified lately (direct-mapped by their SHA-256). */
#define ORDERD_JWT_CACHE_SLOTS 512

/**
 * Tokens one thread has verified, with their user and times: a token found
 * there (the same bytes, checked with the same verifier) is checked again
 * only for exp and nbf. Owned and used by one thread; never shared.
 */
typedef struct orderd_jwt_cache orderd_jwt_cache_t;

/** A new, empty cache (about 72 KiB), or NULL when out of memory. Free with orderd_jwt_cache_free. */
__attribute__((warn_unused_result)) orderd_jwt_cache_t *orderd_jwt_cache_new(void);

/** Frees c (NULL is ignored). */
void orderd_jwt_cache_free(orderd_jwt_cache_t *c);

/**
 * Reads the key file (or the secret file) named in cfg and returns a
 * verifier holding the keys and a copy of cfg's policy, with one reference
 * (the caller's). On success `msg` says what was loaded, for the log
 * ("RS256 key from k.pem", "2 keys from k.jwks: kid a RS256, kid b ES256;
 * skipped 1: key 3 kid c: kty oct ..."); never key material. Returns NULL with one
 * line in msg when a file cannot be read, holds no usable key (a JWKS
 * whose keys are all skipped included), an RSA key is under 2048 bits, an
 * EC key is not P-256, or a secret is under 32 bytes.
 */
__attribute__((warn_unused_result)) orderd_jwt_verifier_t *orderd_jwt_verifier_new(const orderd_jwt_config_t *cfg,
                                                                                   char *msg, size_t msglen);

/** Takes another reference to v (any thread). Returns v. */
orderd_jwt_verifier_t *orderd_jwt_verifier_retain(orderd_jwt_verifier_t *v);

/** Drops a reference (any thread); the last one frees v. NULL is ignored. */
void orderd_jwt_verifier_release(orderd_jwt_verifier_t *v);

/**
 * Verifies `token` (len bytes, not NUL-terminated: the Authorization
 * header's value after "Bearer ") at Unix time now_s. On ORDERD_JWT_OK the
 * user claim's string is in user (NUL-terminated, *user_len bytes, at most
 * user_size - 1). Any thread may verify with the same v at once, each with
 * a cache of its own (NULL: none; a token that verifies is put in it).
 * Every refusal is a result, never a crash, whatever the bytes.
 */
__attribute__((warn_unused_result)) orderd_jwt_result_t orderd_jwt_verify(const orderd_jwt_verifier_t *v,
                                                                          orderd_jwt_cache_t *cache, const char *token,
                                                                          size_t len, int64_t now_s, char *user,
                                                                          size_t user_size, size_t *user_len);

/** Why, in words, for a problem's detail: "the token has expired". Names no key material. A static string. */
const char *orderd_jwt_result_text(orderd_jwt_result_t r);

#endif
