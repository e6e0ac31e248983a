#ifndef ORDERD_INTERNAL_JWT_KEYS_H
#define ORDERD_INTERNAL_JWT_KEYS_H

/* The verifier's fields: made by src/jwt_keys.c, read by src/jwt.c. */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jwt.h>
#include <openssl/evp.h>

#include "orderd/jwt.h"

/** One key: what libjwt's jwt_decode is given, and the one algorithm it may be used with. */
typedef struct orderd_jwt_key {
    char kid[ORDERD_JWT_NAME_MAX + 1]; /* "" when the key has none (a PEM file, a secret) */
    jwt_alg_t alg;                     /* JWT_ALG_RS256, JWT_ALG_ES256 or JWT_ALG_HS256 */
    unsigned char *material;           /* a SubjectPublicKeyInfo PEM, or the secret's bytes */
    size_t len;
    EVP_PKEY *pkey; /* the same public key parsed once (NULL for a secret): src/jwt.c's first look */
} orderd_jwt_key_t;

struct orderd_jwt_verifier {
    atomic_uint refs;
    uint64_t generation; /* unique to this verifier: a cache entry of another one is never taken */
    orderd_jwt_key_t keys[ORDERD_JWT_KEYS_MAX];
    size_t nkeys; /* at least 1 */
    char issuer[ORDERD_JWT_NAME_MAX + 1];
    char audience[ORDERD_JWT_NAME_MAX + 1];
    char user_claim[ORDERD_JWT_NAME_MAX + 1];
    int64_t leeway_s;
};

#endif
