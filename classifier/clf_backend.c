/* The backend registry: the only place that knows which backends were
 * built (the only `#if HAVE_CUDA`), and the precision names. */
#include "classifier/clf_backend.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

int clf_precision_parse(const char *s, enum clf_precision *ret) {
        static const struct {
                const char *name;
                enum clf_precision p;
        } names[] = {
                { "f16", CLF_PREC_F16 },   { "fp16", CLF_PREC_F16 },     { "half", CLF_PREC_F16 },
                { "bf16", CLF_PREC_BF16 }, { "tf32", CLF_PREC_TF32 },    { "f32", CLF_PREC_F32 },
                { "fp32", CLF_PREC_F32 },  { "auto", CLF_PREC_DEFAULT },
        };

        for (size_t i = 0; s && i < sizeof names / sizeof *names; i++)
                if (strcasecmp(s, names[i].name) == 0) {
                        *ret = names[i].p;
                        return 0;
                }
        return -EINVAL;
}

const char *clf_precision_name(enum clf_precision p) {
        switch (p) {
        case CLF_PREC_F16:
                return "f16";
        case CLF_PREC_BF16:
                return "bf16";
        case CLF_PREC_TF32:
                return "tf32";
        case CLF_PREC_F32:
                return "f32";
        default:
                return "default";
        }
}

int clf_backend_create(const char *name, const struct clf_backend_opts *opts, struct clf_backend **ret_be) {
        bool want_auto = !name || strcmp(name, "auto") == 0;

        if (!want_auto && strcmp(name, "cpu") != 0 && strcmp(name, "cuda") != 0)
                return -EINVAL;
#if HAVE_CUDA
        if (want_auto || strcmp(name, "cuda") == 0) {
                int r = clf_cuda_create(opts, ret_be);

                if (r >= 0)
                        return r;
                if (!want_auto) {
                        if (r == -ENODEV)
                                log_err("classifier: backend cuda asked for, but no usable CUDA device: %s",
                                        clf_cuda_why());
                        return r;
                }
                /* the one line saying where the classifier runs */
                if (r == -ENODEV)
                        log_notice("classifier: no CUDA device (%s): CPU backend", clf_cuda_why());
                else
                        log_notice("classifier: CUDA backend failed (%s): CPU backend", strerror(-r));
        }
#else
        if (!want_auto && strcmp(name, "cuda") == 0) {
                log_debug("classifier: built without CUDA");
                return -EOPNOTSUPP;
        }
        if (want_auto)
                log_debug("classifier: built without CUDA: CPU backend");
#endif
        return clf_cpu_create(opts, ret_be);
}

#if !HAVE_CUDA
const char *clf_cuda_why(void) {
        return "built without CUDA";
}
#endif

void clf_backend_destroy(struct clf_backend *be) {
        if (be)
                be->ops->destroy(be);
}
