/* Constant-time comparison of secrets (see secret.h). */
#include "common/secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static bool digest(const void *p, size_t n, unsigned char out[32]) {
        unsigned len = 0;

        return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

bool sy_secret_equal(const void *got, size_t got_len, const void *want, size_t want_len) {
        unsigned char a[32], b[32];
        bool ok = digest(got, got_len, a) & digest(want, want_len, b);

        /* a failed digest matches nothing */
        return ok && CRYPTO_memcmp(a, b, sizeof a) == 0;
}

void sy_secret_free(char *s) {
        if (s)
                explicit_bzero(s, strlen(s));
        free(s);
}
