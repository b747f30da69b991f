/* Unit test for common/secret (sy_secret_equal, the comparison of admin
 * tokens): equal only for the same bytes, whatever the lengths: a right
 * prefix, a longer value that starts with the secret, one byte off, the
 * empty string, bytes past a NUL. */
#include <string.h>

#include "tests/check.h"
#include "common/secret.h"

static bool eq(const char *got, const char *want) {
        return sy_secret_equal(got, strlen(got), want, strlen(want));
}

int main(void) {
        const char *tok = "s3cr3t-admin-token-0123456789";

        CHECK(eq(tok, tok));
        CHECK(eq("s3cr3t-admin-token-0123456789", tok));  /* equal bytes, another buffer */
        CHECK(!eq("s3cr3t-admin-token-0123456788", tok)); /* last byte off */
        CHECK(!eq("S3cr3t-admin-token-0123456789", tok)); /* first byte off */
        CHECK(!eq("wrong", tok));
        CHECK(!eq("s3cr3t-admin", tok));                   /* a right prefix */
        CHECK(!eq("s3cr3t-admin-token-012345678", tok));   /* all but the last byte */
        CHECK(!eq("s3cr3t-admin-token-0123456789x", tok)); /* the secret and one more byte */
        CHECK(!eq("s3cr3t-admin-token-01234567890123456789", tok));
        CHECK(!eq("", tok));
        CHECK(!eq(tok, ""));
        CHECK(eq("", ""));
        /* lengths count, not NULs: "ab\0c" is not "ab\0d" nor "ab" */
        CHECK(sy_secret_equal("ab\0c", 4, "ab\0c", 4));
        CHECK(!sy_secret_equal("ab\0c", 4, "ab\0d", 4));
        CHECK(!sy_secret_equal("ab\0c", 4, "ab", 2));
        /* longer than a SHA-256 block */
        {
                char a[300], b[300];
                memset(a, 'k', sizeof a);
                memcpy(b, a, sizeof b);
                CHECK(sy_secret_equal(a, sizeof a, b, sizeof b));
                b[299] = 'j';
                CHECK(!sy_secret_equal(a, sizeof a, b, sizeof b));
                CHECK(!sy_secret_equal(a, sizeof a, b, 299 - 1));
        }
        return check_done("secret");
}
