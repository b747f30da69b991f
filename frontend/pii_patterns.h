/* Structured PII by shape and checksum over a whole text (pii_patterns.c):
 * what the PII guard adds to the classifier's spans. Pure function. */
#pragma once
#include <stddef.h>

enum {
        PII_PAT_SSN = 1u << 0,         /* US_SSN */
        PII_PAT_CREDIT_CARD = 1u << 1, /* CREDIT_CARD */
        PII_PAT_EMAIL = 1u << 2,       /* EMAIL_ADDRESS */
        PII_PAT_IP = 1u << 3,          /* IP_ADDRESS */
        PII_PAT_IBAN = 1u << 4,        /* IBAN_CODE */
};

/* The PII_PAT_* kinds found anywhere in s[0..n). */
unsigned pii_patterns_scan(const char *s, size_t n);
