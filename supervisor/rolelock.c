/* A role process's lock (see rolelock.h). */
#include "supervisor/rolelock.h"

#include <errno.h>

#include "common/config.h"
#include "common/log.h"

int rolelock_take(const char *config_path, enum lockfile_role role, const char *ident) {
        struct sy_config *cfg;
        char err[1024];
        int r;

        sy_log_init(ident);
        if (sy_config_load(config_path, &cfg, err, sizeof err) < 0)
                return 0; /* the role's main says why, as it always has */
        r = lockfile_lock_role(cfg->shm.runtime_dir, role, err, sizeof err);
        if (r < 0)
                log_err("%s", err);
        sy_config_free(cfg);
        return r;
}
