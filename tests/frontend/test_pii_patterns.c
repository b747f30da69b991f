/* pii_patterns_scan: each kind found in the forms people paste, with its
 * checksum, anywhere in a long text; and the look-alikes it must leave
 * alone (versions, dates, order numbers, wrong checksums). */
#include <stdlib.h>
#include <string.h>

#include "frontend/pii_patterns.h"
#include "tests/check.h"

static unsigned scan(const char *s) {
        return pii_patterns_scan(s, strlen(s));
}

int main(void) {
        /* SSN */
        check_eq(scan("My SSN is 123-45-6789."), PII_PAT_SSN);
        check_eq(scan("ssn: 078 05 1120 thanks"), PII_PAT_SSN);
        check_eq(scan("(219-09-9999)"), PII_PAT_SSN);
        check_eq(scan("000-12-3456"), 0);       /* area 000 */
        check_eq(scan("666-12-3456"), 0);       /* area 666 */
        check_eq(scan("912-12-3456"), 0);       /* area 9xx */
        check_eq(scan("123-00-4567"), 0);       /* group 00 */
        check_eq(scan("123-45-0000"), 0);       /* serial 0000 */
        check_eq(scan("111-11-1111"), 0);       /* one digit */
        check_eq(scan("123-45 6789"), 0);       /* mixed separators */
        check_eq(scan("call 555-123-4567"), 0); /* a phone number is not an SSN */
        check_eq(scan("id 1123-45-67890"), 0);  /* part of a longer number */
        /* payment cards (Luhn) */
        check_eq(scan("card 4111 1111 1111 1111 exp 12/29"), PII_PAT_CREDIT_CARD);
        check_eq(scan("4111-1111-1111-1111"), PII_PAT_CREDIT_CARD);
        check_eq(scan("5500005555555559"), PII_PAT_CREDIT_CARD);
        check_eq(scan("378282246310005"), PII_PAT_CREDIT_CARD); /* Amex, 15 digits */
        check_eq(scan("4111 1111 1111 1112"), 0);               /* Luhn fails */
        check_eq(scan("order 1234567890123"), 0);               /* 13 digits, Luhn fails */
        check_eq(scan("9111111111111111111111"), 0);            /* too long */
        /* e-mail */
        check_eq(scan("mail jane.doe+x@example.co.uk."), PII_PAT_EMAIL);
        check_eq(scan("a@b.io"), PII_PAT_EMAIL);
        check_eq(scan("@decorator on a function"), 0);
        check_eq(scan("user@localhost"), 0);
        check_eq(scan("x@1.2"), 0);
        check_eq(scan("a@b.c"), 0); /* one-letter top-level domain */
        /* IPv4 */
        check_eq(scan("server at 192.168.1.20, port 22"), PII_PAT_IP);
        check_eq(scan("10.0.0.1"), PII_PAT_IP);
        check_eq(scan("version 1.2.3"), 0);
        check_eq(scan("256.1.1.1"), 0);
        check_eq(scan("1.2.3.4.5"), 0);
        check_eq(scan("01.2.3.4"), 0);
        /* IBAN (mod 97) */
        check_eq(scan("IBAN GB82 WEST 1234 5698 7654 32 please"), PII_PAT_IBAN);
        check_eq(scan("DE89370400440532013000"), PII_PAT_IBAN);
        check_eq(scan("GB82 WEST 1234 5698 7654 33"), 0); /* check digits wrong */
        check_eq(scan("ABCD1234"), 0);
        /* several at once */
        check_eq(scan("SSN 123-45-6789, card 4111111111111111, mail a@b.io"),
                 PII_PAT_SSN | PII_PAT_CREDIT_CARD | PII_PAT_EMAIL);
        /* anywhere in a long text: past what any encoder reads */
        {
                size_t n = 200000;
                char *t = malloc(n + 1);
                check(t);
                for (size_t i = 0; i < n; i++)
                        t[i] = "lorem ipsum dolor sit amet "[i % 27];
                memcpy(t + 123457, " 123-45-6789 ", 13);
                t[n] = 0;
                check_eq(pii_patterns_scan(t, n), PII_PAT_SSN);
                free(t);
        }
        /* nothing in ordinary prose or code */
        check_eq(scan("How do I kill a Python process? for i in range(10): print(i * 3.14)"), 0);
        check_eq(scan("Meet at 10:30 on 2024-05-06, room 12-B, call ext. 4455."), 0);
        printf("pii_patterns: ok\n");
        return 0;
}
