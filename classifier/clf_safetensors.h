/* safetensors files, memory-mapped: an 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
 * then the tensor bytes. Everything in the header is checked against the
 * file before a tensor is handed out: known dtype, shape consistent with
 * the byte range, ranges inside the file and not overlapping, no duplicate
 * names. */
#pragma once
#include <stddef.h>
#include <stdint.h>

enum clf_dtype {
        CLF_DTYPE_F32,
        CLF_DTYPE_F16,
        CLF_DTYPE_BF16,
        CLF_DTYPE_F64,
        CLF_DTYPE_I64,
        CLF_DTYPE_I32,
        CLF_DTYPE_I16,
        CLF_DTYPE_I8,
        CLF_DTYPE_U8,
        CLF_DTYPE_BOOL,
        CLF_DTYPE_F8_E4M3,
        CLF_DTYPE_F8_E5M2,
};

#define CLF_ST_MAX_DIMS 8
#define CLF_ST_MAX_HEADER (100u << 20) /* as the safetensors library */

struct clf_st_tensor {
        const char *name;
        enum clf_dtype dtype;
        unsigned ndim;
        int64_t shape[CLF_ST_MAX_DIMS];
        size_t numel;
        const void *data; /* into the mapping */
        size_t nbytes;
};

struct clf_safetensors;

/* Returns 0, -errno of open/mmap, -EBADMSG (malformed: truncated file,
 * header length beyond the file, invalid JSON, unknown dtype, shape not
 * matching the byte range, offsets out of range or overlapping, duplicate
 * names), -ENOMEM. */
int clf_safetensors_open(const char *path, struct clf_safetensors **ret_st);
void clf_safetensors_close(struct clf_safetensors *st);

size_t clf_safetensors_count(const struct clf_safetensors *st);
const struct clf_st_tensor *clf_safetensors_at(const struct clf_safetensors *st, size_t i);
const struct clf_st_tensor *clf_safetensors_find(const struct clf_safetensors *st, const char *name);

const char *clf_dtype_name(enum clf_dtype dt);

/* Converts a F32/F16/BF16/F64 tensor to n = numel floats.
 * -EOPNOTSUPP for other dtypes, -EINVAL if n != numel. */
int clf_safetensors_to_f32(const struct clf_st_tensor *t, float *out, size_t n);
