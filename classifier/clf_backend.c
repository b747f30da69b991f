/* The backend registry: the only place that knows which backends were
 * built. */
#include "classifier/clf_backend.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"

int clf_backend_create(const char *name, const struct clf_backend_opts *opts, struct clf_backend **ret_be) {
        bool want_auto = !name || strcmp(name, "auto") == 0;

        if (!want_auto && strcmp(name, "cpu") != 0 && strcmp(name, "cuda") != 0)
                return -EINVAL;
#if HAVE_CUDA
        if (want_auto || strcmp(name, "cuda") == 0) {
                int r = clf_cuda_create(opts, ret_be);

                if (r >= 0 || !want_auto)
                        return r;
                log_debug("classifier: no CUDA device (%s): CPU backend", strerror(-r));
        }
#else
        if (!want_auto && strcmp(name, "cuda") == 0)
                return -EOPNOTSUPP;
#endif
        return clf_cpu_create(opts, ret_be);
}

void clf_backend_destroy(struct clf_backend *be) {
        if (be)
                be->ops->destroy(be);
}
