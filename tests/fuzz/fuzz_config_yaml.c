/* libFuzzer target: the configuration loader (common/config*.c over
 * libyaml), from a buffer (sy_config_load_string) and from a file
 * (sy_config_load).
 *
 * Checks: a refusal says where, "fuzz.yaml:LINE:COL: ..." or
 * "fuzz.yaml: ..."; the verdict from a file is the buffer's (same return
 * code); a configuration that loads has its invariants (names valid,
 * every upstream with a host, a port and models). */
#include <errno.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct sy_config *cfg = NULL, *cfg2 = NULL;
        char err[1024], err2[1024], path[64];
        char *copy = malloc(size ? size : 1);
        int r, r2, fd;

        sy_log_level = -1;
        memcpy(copy, data, size);
        r = sy_config_load_string("fuzz.yaml", copy, size, &cfg, err, sizeof err);
        free(copy);
        if (r < 0) {
                FUZZ_CHECK(cfg == NULL || cfg != NULL); /* *ret_cfg is not promised on failure */
                FUZZ_CHECK(strncmp(err, "fuzz.yaml", 9) == 0 && (err[9] == ':'));
                FUZZ_CHECK(strlen(err) > 11);
        } else {
                FUZZ_CHECK(r == 0 && cfg);
                for (size_t i = 0; i < cfg->n_upstreams; i++) {
                        const struct sy_upstream_cfg *u = &cfg->upstreams[i];
                        FUZZ_CHECK(u->name && sy_config_name_ok(u->name));
                        FUZZ_CHECK(u->host && u->port);
                        FUZZ_CHECK(u->engine && sy_config_engine_ok(u->engine));
                        for (size_t k = 0; k < u->n_models; k++)
                                FUZZ_CHECK(u->models[k] && sy_config_name_ok(u->models[k]));
                }
        }
        fd = fuzz_file(data, size, path, sizeof path);
        r2 = sy_config_load(path, &cfg2, err2, sizeof err2);
        close(fd);
        FUZZ_CHECK(r2 == r);
        if (r == 0) {
                FUZZ_CHECK(cfg2 && cfg2->n_upstreams == cfg->n_upstreams);
                sy_config_free(cfg2);
                sy_config_free(cfg);
        }
        return 0;
}
