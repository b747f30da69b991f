/* Where the embedded default model is: kept apart from the classifier
 * process so that `switchyard check` can say it without linking the
 * engine (and its BLAS / CUDA libraries). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "classifier/daemon.h"

static bool is_model_dir(const char *d) {
        char p[4096];
        struct stat st;

        snprintf(p, sizeof p, "%s/config.json", d);
        return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *classifier_default_model(void) {
        const char *env = getenv("SWITCHYARD_MODEL_DIR");

        if (env && *env)
                return env; /* said explicitly: used (and refused at load if wrong) */
        if (is_model_dir(SY_MODEL_DATADIR))
                return SY_MODEL_DATADIR;
        if (is_model_dir(SY_MODEL_SRCDIR))
                return SY_MODEL_SRCDIR;
        return NULL;
}
