/* The CUDA backend's kernel launchers (classifier/cuda/kernels.cu), used by
 * the backend itself (clf_cuda.cu). C++/CUDA only: the rest of the engine
 * sees the backend through struct clf_backend_ops (clf_backend.h).
 *
 * Layering as in the design: op_kernel (a __global__ in kernels.cu) ->
 * launcher clf_cuda_op() here -> backend op in clf_cuda.cu. Each launcher
 * enqueues on the given stream and returns cudaGetLastError() (a launch
 * error; faults show at the next synchronization). Tensors are f32,
 * row-major, as clf_backend.h describes; `void *` with a dtype are the
 * GEMM operands in the backend's precision. Sizes are element counts. */
#pragma once
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "classifier/clf_config.h"
}

/* element type of GEMM operands */
enum clf_cuda_dtype { CLF_CUDA_F32, CLF_CUDA_F16, CLF_CUDA_BF16 };

size_t clf_cuda_dtype_size(enum clf_cuda_dtype t);

/* dst[i] = (dtype) src[i], i < n */
cudaError_t clf_cuda_convert(void *dst, enum clf_cuda_dtype t, const float *src, size_t n, cudaStream_t s);
/* rows of K floats -> rows of Kp >= K + 1 elements (dtype): the row, then
 * col[i] (1 when col is NULL), then zeros. GEMMs fold their bias in this
 * way: x gets a column of ones, w a column of the bias. */
cudaError_t clf_cuda_convert_rows(void *dst, enum clf_cuda_dtype t, const float *src, const float *col, size_t rows,
                                  size_t K, size_t Kp, cudaStream_t s);
/* out[i, j] = bias[j], out [M, N] */
cudaError_t clf_cuda_bias_fill(float *out, const float *bias, size_t M, size_t N, cudaStream_t s);
/* out[i, :] (+)= table[ids[i], :] */
cudaError_t clf_cuda_embed(float *out, const float *table, const int32_t *ids, size_t n, size_t dim, bool accumulate,
                           cudaStream_t s);
/* out[M, N] = layernorm(x) * w (+ b), out may be x */
cudaError_t clf_cuda_layernorm(float *out, const float *x, const float *w, const float *b, size_t M, size_t N,
                               float eps, cudaStream_t s);
cudaError_t clf_cuda_add(float *out, const float *x, size_t n, cudaStream_t s);
cudaError_t clf_cuda_act(float *x, size_t n, enum clf_act act, cudaStream_t s);
cudaError_t clf_cuda_glu(float *out, const float *x, size_t M, size_t n_half, enum clf_act act, cudaStream_t s);
cudaError_t clf_cuda_rope(float *qkv, const float *cos_t, const float *sin_t, size_t B, size_t T, size_t heads,
                          size_t hd, cudaStream_t s);
/* qkv [B*T, 3*heads*hd] f32 -> dst (dtype) as three tensors q, k, v one
 * after the other, each [B*heads, T, hd] */
cudaError_t clf_cuda_attn_split(void *dst, enum clf_cuda_dtype t, const float *qkv, size_t B, size_t T, size_t heads,
                                size_t hd, cudaStream_t s);
/* rows of the scores of the (sequence, head) pairs z0 .. z0+zc-1, scores
 * [zc, T, T] f32 -> probabilities p (dtype) [zc, T, T]: masked softmax
 * (mask [B*T], pair z is sequence z / heads), window > 0: keys with
 * |i - j| <= window / 2 only; a query after the last valid key of its
 * sequence, or with no valid key in reach, gets a row of zeros. */
cudaError_t clf_cuda_softmax(void *p, enum clf_cuda_dtype t, const float *scores, const float *mask, size_t z0,
                             size_t zc, size_t T, size_t heads, size_t window, cudaStream_t s);
/* o [B*heads, T, hd] f32 -> ctx [B*T, heads*hd] */
cudaError_t clf_cuda_attn_merge(float *ctx, const float *o, size_t B, size_t T, size_t heads, size_t hd,
                                cudaStream_t s);
cudaError_t clf_cuda_pool(float *out, const float *x, const float *mask, size_t B, size_t T, size_t H,
                          enum clf_pooling mode, cudaStream_t s);
