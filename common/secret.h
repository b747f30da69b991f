/* Secrets (tokens, keys) compared without the time of the comparison
 * saying how close a guess was or how long the secret is. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* true when the got_len bytes at got equal the want_len bytes at want. Both
 * are hashed (SHA-256) and the digests compared in constant time
 * (CRYPTO_memcmp): neither a matching prefix nor a length difference
 * answers sooner. */
bool sy_secret_equal(const void *got, size_t got_len, const void *want, size_t want_len);

/* Wipes the NUL-terminated secret s (NULL is fine) and frees it. */
void sy_secret_free(char *s);
