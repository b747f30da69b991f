/* libFuzzer target: a model's config.json (classifier/clf_config.c): the
 * architecture, sizes, labels and heads the classifier allocates by.
 *
 * Checks: the documented return codes; a config that loads has a known
 * architecture, non-zero sizes that fit their limits (heads divide hidden),
 * num_labels labels, all strings, heads with names. */
#include <errno.h>
#include <string.h>

#include "classifier/clf_config.h"
#include "common/log.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct clf_config c;
        char path[64];
        int fd = fuzz_file(data, size, path, sizeof path), r;

        sy_log_level = -1;
        memset(&c, 0, sizeof c);
        r = clf_config_load(path, &c);
        close(fd);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EOPNOTSUPP || r == -ENOMEM);
        if (r < 0)
                return 0;
        FUZZ_CHECK(c.arch == CLF_ARCH_BERT || c.arch == CLF_ARCH_DISTILBERT || c.arch == CLF_ARCH_MODERNBERT);
        FUZZ_CHECK(c.hidden > 0 && c.heads > 0 && c.hidden % c.heads == 0);
        FUZZ_CHECK(c.vocab_size > 0 && c.layers > 0);
        for (size_t i = 0; i < c.num_labels; i++)
                FUZZ_CHECK(c.labels && c.labels[i]);
        FUZZ_CHECK(c.n_clf_heads <= CLF_MAX_HEADS);
        FUZZ_CHECK(memchr(c.lexical_file, 0, sizeof c.lexical_file) && memchr(c.crf_file, 0, sizeof c.crf_file));
        clf_config_free(&c);
        return 0;
}
