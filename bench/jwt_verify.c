/*
 * What one --user-auth jwt check costs, in CPU time per token (docs/security.md):
 *
 *   build/bench/jwt_verify [N]
 *
 * makes an RSA 2048 key and an EC P-256 key, and for each times N checks
 * (default 2000) of: a good token again (the thread's cache finds it), a
 * good token never seen (no cache: the first look, then libjwt), a forged
 * signature (refused at the first look), and libjwt's jwt_decode alone on
 * the good token (what every token cost before the first look and the
 * cache). One line each, "WHAT: N us".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "orderd/jwt.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *pem_of(EVP_PKEY *k, int private)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *out;
    if (b == NULL ||
        (private ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(b, k)) != 1)
        abort();
    long n = BIO_get_mem_data(b, &p);
    if ((out = malloc((size_t)n + 1)) == NULL)
        abort();
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    return out;
}

/* One key's four figures. */
static void run(const char *name, EVP_PKEY *k, jwt_alg_t alg, int n, const char *dir)
{
    char path[4200], msg[512], user[65], claims[256];
    size_t ulen;
    char *pub = pem_of(k, 0), *priv = pem_of(k, 1);
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(pub, f) < 0 || fclose(f) != 0)
        abort();
    orderd_jwt_config_t cfg = {.key_file = path, .issuer = "iss", .audience = "aud", .leeway_s = 30};
    orderd_jwt_verifier_t *v = orderd_jwt_verifier_new(&cfg, msg, sizeof(msg));
    orderd_jwt_cache_t *cache = orderd_jwt_cache_new();
    jwt_t *j;
    if (v == NULL || cache == NULL || jwt_new(&j) != 0)
        abort();
    snprintf(claims, sizeof(claims), "{\"sub\":\"alice\",\"iss\":\"iss\",\"aud\":\"aud\",\"exp\":%lld}",
             (long long)time(NULL) + 3600);
    if (jwt_add_grants_json(j, claims) != 0 || jwt_set_alg(j, alg, (unsigned char *)priv, (int)strlen(priv)) != 0)
        abort();
    char *good = jwt_encode_str(j), *forged = strdup(good);
    jwt_free(j);
    size_t len = strlen(good);
    forged[len - 3] = forged[len - 3] == 'A' ? 'B' : 'A';
    const char *what[] = {"good token, cached", "good token, new", "forged signature", "libjwt jwt_decode alone"};
    for (int w = 0; w < 4; ++w) {
        double t0 = cpu_now();
        for (int i = 0; i < n; ++i) {
            int ok;
            if (w == 3) {
                ok = jwt_decode(&j, good, (unsigned char *)pub, (int)strlen(pub)) == 0;
                jwt_free(j);
            } else {
                ok = orderd_jwt_verify(v, w == 0 ? cache : NULL, w == 2 ? forged : good, len, (int64_t)time(NULL), user,
                                       sizeof(user), &ulen) == (w == 2 ? ORDERD_JWT_BAD_SIGNATURE : ORDERD_JWT_OK);
            }
            if (!ok) {
                fprintf(stderr, "%s %s: unexpected result\n", name, what[w]);
                exit(1);
            }
        }
        printf("%s, %s: %.1f us\n", name, what[w], (cpu_now() - t0) / n * 1e6);
    }
    unlink(path);
    orderd_jwt_cache_free(cache);
    orderd_jwt_verifier_release(v);
    free(good), free(forged), free(pub), free(priv);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    char dir[] = "/tmp/orderd-jwt-bench-XXXXXX";
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (n < 1 || mkdtemp(dir) == NULL || rsa == NULL || ec == NULL) {
        fprintf(stderr, "usage: jwt_verify [N >= 1]\n");
        return 2;
    }
    run("RS256", rsa, JWT_ALG_RS256, n, dir);
    run("ES256", ec, JWT_ALG_ES256, n, dir);
    rmdir(dir);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    return 0;
}
