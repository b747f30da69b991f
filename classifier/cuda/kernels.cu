/* The CUDA backend's own kernels (everything that is not a GEMM: those are
 * cuBLAS calls in clf_cuda.cu) and their launchers (clf_cuda.h).
 *
 * Written to be obviously right rather than clever: f32 arithmetic
 * throughout (the GEMM operands are the only reduced-precision values),
 * the same formulas and the same order of passes as the CPU oracle
 * (clf_cpu.c), one thread block per row where a row is reduced (layer
 * norm, softmax) or indexed (embedding, split/merge of heads), grid-stride
 * loops for flat element-wise ops. Row-per-block kernels index columns
 * with 32-bit integers; rows come from blockIdx.x (up to 2^31 - 1). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <limits.h>
#include <math.h>

#include "classifier/clf_cuda.h"

#define ROW_THREADS 256u
#define FLAT_THREADS 256u
#define SOFTMAX_THREADS 128u

/* ---- element types ---- */

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) {
        return v;
}
template <> __device__ __forceinline__ __half from_f32<__half>(float v) {
        return __float2half_rn(v);
}
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
        return __float2bfloat16_rn(v);
}

size_t clf_cuda_dtype_size(enum clf_cuda_dtype t) {
        return t == CLF_CUDA_F32 ? 4 : 2;
}

/* ---- helpers ---- */

static unsigned flat_blocks(size_t n) {
        size_t b = (n + FLAT_THREADS - 1) / FLAT_THREADS;

        return b > (1u << 20) ? (1u << 20) : (unsigned)b;
}

#define GRID_STRIDE(i, n) \
        for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float v) {
        for (int o = 16; o > 0; o >>= 1)
                v += __shfl_xor_sync(0xffffffffu, v, o);
        return v;
}

__device__ __forceinline__ float warp_max(float v) {
        for (int o = 16; o > 0; o >>= 1)
                v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
        return v;
}

/* Sum / max over the block (blockDim.x a multiple of 32, at most 1024);
 * every thread of the block must call it, every thread gets the result.
 * sh: __shared__ float[32]. */
__device__ float block_sum(float v, float *sh) {
        unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;

        v = warp_sum(v);
        __syncthreads(); /* sh may still be read from a previous call */
        if (lane == 0)
                sh[warp] = v;
        __syncthreads();
        if (warp == 0) {
                v = lane < nw ? sh[lane] : 0.0f;
                v = warp_sum(v);
                if (lane == 0)
                        sh[0] = v;
        }
        __syncthreads();
        return sh[0];
}

__device__ float block_max(float v, float *sh) {
        unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;

        v = warp_max(v);
        __syncthreads();
        if (lane == 0)
                sh[warp] = v;
        __syncthreads();
        if (warp == 0) {
                v = lane < nw ? sh[lane] : -INFINITY;
                v = warp_max(v);
                if (lane == 0)
                        sh[0] = v;
        }
        __syncthreads();
        return sh[0];
}

/* the activations, as clf_cpu.c's act1() (exact erf GELU here) */
__device__ __forceinline__ float act1(float v, enum clf_act act) {
        switch (act) {
        case CLF_ACT_GELU:
                return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        case CLF_ACT_GELU_TANH:
                return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        case CLF_ACT_RELU:
                return v > 0.0f ? v : 0.0f;
        case CLF_ACT_SILU:
                return v / (1.0f + expf(-v));
        case CLF_ACT_TANH:
                return tanhf(v);
        }
        return v;
}

/* ---- kernels ---- */

template <typename T> __global__ void convert_kernel(T *dst, const float *src, size_t n) {
        GRID_STRIDE(i, n)
        dst[i] = from_f32<T>(src[i]);
}

/* one block per row */
template <typename T>
__global__ void convert_rows_kernel(T *dst, const float *src, const float *col, unsigned K, unsigned Kp) {
        const float *si = src + (size_t)blockIdx.x * K;
        T *di = dst + (size_t)blockIdx.x * Kp;

        for (unsigned k = threadIdx.x; k < Kp; k += blockDim.x)
                di[k] = from_f32<T>(k < K ? si[k] : k == K ? (col ? col[blockIdx.x] : 1.0f) : 0.0f);
}

__global__ void bias_fill_kernel(float *out, const float *bias, unsigned N) {
        float *o = out + (size_t)blockIdx.x * N;

        for (unsigned j = threadIdx.x; j < N; j += blockDim.x)
                o[j] = bias[j];
}

__global__ void embed_kernel(float *out, const float *table, const int32_t *ids, unsigned dim, bool accumulate) {
        const float *row = table + (size_t)ids[blockIdx.x] * dim;
        float *o = out + (size_t)blockIdx.x * dim;

        for (unsigned j = threadIdx.x; j < dim; j += blockDim.x)
                o[j] = accumulate ? o[j] + row[j] : row[j];
}

/* two passes like the CPU (mean, then variance of the differences); in
 * place is safe: every element is read and written by the same thread and
 * the reductions are barriers */
__global__ void layernorm_kernel(float *out, const float *x, const float *w, const float *b, unsigned N, float eps) {
        __shared__ float sh[32];
        const float *xi = x + (size_t)blockIdx.x * N;
        float *oi = out + (size_t)blockIdx.x * N;
        float s = 0.0f, mean, var, inv;

        for (unsigned j = threadIdx.x; j < N; j += blockDim.x)
                s += xi[j];
        mean = block_sum(s, sh) / (float)N;
        s = 0.0f;
        for (unsigned j = threadIdx.x; j < N; j += blockDim.x) {
                float d = xi[j] - mean;

                s += d * d;
        }
        var = block_sum(s, sh) / (float)N;
        inv = 1.0f / sqrtf(var + eps);
        for (unsigned j = threadIdx.x; j < N; j += blockDim.x)
                oi[j] = (xi[j] - mean) * inv * w[j] + (b ? b[j] : 0.0f);
}

__global__ void add_kernel(float *out, const float *x, size_t n) {
        GRID_STRIDE(i, n)
        out[i] += x[i];
}

__global__ void act_kernel(float *x, size_t n, enum clf_act act) {
        GRID_STRIDE(i, n)
        x[i] = act1(x[i], act);
}

__global__ void glu_kernel(float *out, const float *x, unsigned n_half, enum clf_act act) {
        const float *xi = x + (size_t)blockIdx.x * 2 * n_half;
        float *oi = out + (size_t)blockIdx.x * n_half;

        for (unsigned j = threadIdx.x; j < n_half; j += blockDim.x)
                oi[j] = act1(xi[j], act) * xi[n_half + j];
}

/* one block per row (b * T + t); a thread per (part, head, i < hd/2) pair */
__global__ void rope_kernel(float *qkv, const float *cos_t, const float *sin_t, unsigned T, unsigned heads,
                            unsigned hd) {
        unsigned row = blockIdx.x, t = row % T, half = hd / 2, H = heads * hd, pairs = 2 * heads * half;
        float *r = qkv + (size_t)row * 3 * H;
        const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;

        for (unsigned k = threadIdx.x; k < pairs; k += blockDim.x) {
                unsigned i = k % half, h = (k / half) % heads, part = k / (half * heads);
                float *v = r + part * H + h * hd;
                float x1 = v[i], x2 = v[i + half];

                v[i] = x1 * c[i] - x2 * s[i];
                v[i + half] = x2 * c[i] + x1 * s[i];
        }
}

/* one block per row (b * T + t) of qkv; column c = part * H + h * hd + d
 * goes to dst[part][(b * heads + h) * T + t][d] */
template <typename T>
__global__ void attn_split_kernel(T *dst, const float *qkv, unsigned T_, unsigned heads, unsigned hd, size_t part_n) {
        unsigned row = blockIdx.x, b = row / T_, t = row % T_, H = heads * hd;
        const float *src = qkv + (size_t)row * 3 * H;

        for (unsigned c = threadIdx.x; c < 3 * H; c += blockDim.x) {
                unsigned part = c / H, h = (c % H) / hd, d = c % hd;

                dst[part * part_n + (((size_t)b * heads + h) * T_ + t) * hd + d] = from_f32<T>(src[c]);
        }
}

/* one block per score row: row r of the chunk is query i = r % T of pair
 * z = z0 + r / T, sequence b = z / heads. Keys in reach: mask != 0 and,
 * with a window, |i - j| <= half_w. A query after the last valid key of
 * its sequence, or with no key in reach, gets zeros (as the CPU does). */
template <typename T>
__global__ void softmax_kernel(T *p, const float *scores, const float *mask, size_t z0, unsigned T_, unsigned heads,
                               unsigned half_w, bool windowed) {
        __shared__ float sh[32];
        size_t r = blockIdx.x, z = z0 + r / T_, b = z / heads;
        unsigned i = (unsigned)(r % T_), lo = 0, hi = T_;
        const float *s = scores + r * T_, *mb = mask + b * T_;
        T *pr = p + r * T_;
        float last = -1.0f, mx = -INFINITY, sum = 0.0f, inv;

        if (windowed) {
                lo = i > half_w ? i - half_w : 0;
                hi = i + half_w + 1 < T_ ? i + half_w + 1 : T_;
        }
        for (unsigned j = threadIdx.x; j < T_; j += blockDim.x)
                if (mb[j] != 0.0f) {
                        last = (float)j;
                        if (j >= lo && j < hi)
                                mx = fmaxf(mx, s[j]);
                }
        last = block_max(last, sh);
        mx = block_max(mx, sh);
        if ((float)i > last || mx == -INFINITY) { /* same for the whole block */
                for (unsigned j = threadIdx.x; j < T_; j += blockDim.x)
                        pr[j] = from_f32<T>(0.0f);
                return;
        }
        for (unsigned j = threadIdx.x; j < T_; j += blockDim.x)
                if (mb[j] != 0.0f && j >= lo && j < hi)
                        sum += expf(s[j] - mx);
        sum = block_sum(sum, sh);
        inv = 1.0f / sum;
        for (unsigned j = threadIdx.x; j < T_; j += blockDim.x) {
                bool in = mb[j] != 0.0f && j >= lo && j < hi;

                pr[j] = from_f32<T>(in ? expf(s[j] - mx) * inv : 0.0f);
        }
}

/* one block per row (b * T + t) of ctx */
__global__ void attn_merge_kernel(float *ctx, const float *o, unsigned T_, unsigned heads, unsigned hd) {
        unsigned row = blockIdx.x, b = row / T_, t = row % T_, H = heads * hd;
        float *dst = ctx + (size_t)row * H;

        for (unsigned c = threadIdx.x; c < H; c += blockDim.x) {
                unsigned h = c / hd, d = c % hd;

                dst[c] = o[(((size_t)b * heads + h) * T_ + t) * hd + d];
        }
}

/* one block per sequence */
__global__ void pool_kernel(float *out, const float *x, const float *mask, unsigned T_, unsigned H, bool mean) {
        size_t b = blockIdx.x;
        const float *xb = x + b * T_ * H, *mb = mask + b * T_;
        float *o = out + b * H, cnt = 0.0f;

        if (!mean) {
                for (unsigned j = threadIdx.x; j < H; j += blockDim.x)
                        o[j] = xb[j];
                return;
        }
        for (unsigned t = 0; t < T_; t++)
                if (mb[t] != 0.0f)
                        cnt += mb[t];
        for (unsigned j = threadIdx.x; j < H; j += blockDim.x) {
                float acc = 0.0f;

                for (unsigned t = 0; t < T_; t++)
                        if (mb[t] != 0.0f)
                                acc += mb[t] * xb[(size_t)t * H + j];
                o[j] = cnt > 0.0f ? acc / cnt : 0.0f;
        }
}

/* ---- launchers ---- */

static bool fits(size_t rows, size_t cols) {
        return rows <= INT_MAX && cols <= UINT_MAX / 4;
}

cudaError_t clf_cuda_convert(void *dst, enum clf_cuda_dtype t, const float *src, size_t n, cudaStream_t s) {
        if (n == 0)
                return cudaSuccess;
        switch (t) {
        case CLF_CUDA_F32:
                return cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, s);
        case CLF_CUDA_F16:
                convert_kernel<<<flat_blocks(n), FLAT_THREADS, 0, s>>>((__half *)dst, src, n);
                break;
        case CLF_CUDA_BF16:
                convert_kernel<<<flat_blocks(n), FLAT_THREADS, 0, s>>>((__nv_bfloat16 *)dst, src, n);
                break;
        }
        return cudaGetLastError();
}

cudaError_t clf_cuda_convert_rows(void *dst, enum clf_cuda_dtype t, const float *src, const float *col, size_t rows,
                                  size_t K, size_t Kp, cudaStream_t s) {
        if (rows == 0)
                return cudaSuccess;
        if (!fits(rows, Kp) || Kp <= K)
                return cudaErrorInvalidValue;
        switch (t) {
        case CLF_CUDA_F32:
                convert_rows_kernel<<<(unsigned)rows, ROW_THREADS, 0, s>>>((float *)dst, src, col, (unsigned)K,
                                                                           (unsigned)Kp);
                break;
        case CLF_CUDA_F16:
                convert_rows_kernel<<<(unsigned)rows, ROW_THREADS, 0, s>>>((__half *)dst, src, col, (unsigned)K,
                                                                           (unsigned)Kp);
                break;
        case CLF_CUDA_BF16:
                convert_rows_kernel<<<(unsigned)rows, ROW_THREADS, 0, s>>>((__nv_bfloat16 *)dst, src, col, (unsigned)K,
                                                                           (unsigned)Kp);
                break;
        }
        return cudaGetLastError();
}

cudaError_t clf_cuda_bias_fill(float *out, const float *bias, size_t M, size_t N, cudaStream_t s) {
        if (M == 0 || N == 0)
                return cudaSuccess;
        if (!fits(M, N))
                return cudaErrorInvalidValue;
        bias_fill_kernel<<<(unsigned)M, ROW_THREADS, 0, s>>>(out, bias, (unsigned)N);
        return cudaGetLastError();
}

cudaError_t clf_cuda_embed(float *out, const float *table, const int32_t *ids, size_t n, size_t dim, bool accumulate,
                           cudaStream_t s) {
        if (n == 0 || dim == 0)
                return cudaSuccess;
        if (!fits(n, dim))
                return cudaErrorInvalidValue;
        embed_kernel<<<(unsigned)n, ROW_THREADS, 0, s>>>(out, table, ids, (unsigned)dim, accumulate);
        return cudaGetLastError();
}

cudaError_t clf_cuda_layernorm(float *out, const float *x, const float *w, const float *b, size_t M, size_t N,
                               float eps, cudaStream_t s) {
        if (M == 0 || N == 0)
                return cudaSuccess;
        if (!fits(M, N))
                return cudaErrorInvalidValue;
        layernorm_kernel<<<(unsigned)M, ROW_THREADS, 0, s>>>(out, x, w, b, (unsigned)N, eps);
        return cudaGetLastError();
}

cudaError_t clf_cuda_add(float *out, const float *x, size_t n, cudaStream_t s) {
        if (n == 0)
                return cudaSuccess;
        add_kernel<<<flat_blocks(n), FLAT_THREADS, 0, s>>>(out, x, n);
        return cudaGetLastError();
}

cudaError_t clf_cuda_act(float *x, size_t n, enum clf_act act, cudaStream_t s) {
        if (n == 0)
                return cudaSuccess;
        act_kernel<<<flat_blocks(n), FLAT_THREADS, 0, s>>>(x, n, act);
        return cudaGetLastError();
}

cudaError_t clf_cuda_glu(float *out, const float *x, size_t M, size_t n_half, enum clf_act act, cudaStream_t s) {
        if (M == 0 || n_half == 0)
                return cudaSuccess;
        if (!fits(M, 2 * n_half))
                return cudaErrorInvalidValue;
        glu_kernel<<<(unsigned)M, ROW_THREADS, 0, s>>>(out, x, (unsigned)n_half, act);
        return cudaGetLastError();
}

cudaError_t clf_cuda_rope(float *qkv, const float *cos_t, const float *sin_t, size_t B, size_t T, size_t heads,
                          size_t hd, cudaStream_t s) {
        if (B == 0 || T == 0 || heads == 0 || hd < 2)
                return cudaSuccess;
        if (!fits(B * T, 3 * heads * hd))
                return cudaErrorInvalidValue;
        rope_kernel<<<(unsigned)(B * T), ROW_THREADS, 0, s>>>(qkv, cos_t, sin_t, (unsigned)T, (unsigned)heads,
                                                              (unsigned)hd);
        return cudaGetLastError();
}

cudaError_t clf_cuda_attn_split(void *dst, enum clf_cuda_dtype t, const float *qkv, size_t B, size_t T, size_t heads,
                                size_t hd, cudaStream_t s) {
        size_t rows = B * T, part_n = B * T * heads * hd;

        if (rows == 0 || heads == 0 || hd == 0)
                return cudaSuccess;
        if (!fits(rows, 3 * heads * hd))
                return cudaErrorInvalidValue;
        switch (t) {
        case CLF_CUDA_F32:
                attn_split_kernel<<<(unsigned)rows, ROW_THREADS, 0, s>>>((float *)dst, qkv, (unsigned)T,
                                                                         (unsigned)heads, (unsigned)hd, part_n);
                break;
        case CLF_CUDA_F16:
                attn_split_kernel<<<(unsigned)rows, ROW_THREADS, 0, s>>>((__half *)dst, qkv, (unsigned)T,
                                                                         (unsigned)heads, (unsigned)hd, part_n);
                break;
        case CLF_CUDA_BF16:
                attn_split_kernel<<<(unsigned)rows, ROW_THREADS, 0, s>>>((__nv_bfloat16 *)dst, qkv, (unsigned)T,
                                                                         (unsigned)heads, (unsigned)hd, part_n);
                break;
        }
        return cudaGetLastError();
}

cudaError_t clf_cuda_softmax(void *p, enum clf_cuda_dtype t, const float *scores, const float *mask, size_t z0,
                             size_t zc, size_t T, size_t heads, size_t window, cudaStream_t s) {
        size_t rows = zc * T;
        unsigned half_w = (unsigned)(window / 2);

        if (rows == 0)
                return cudaSuccess;
        if (!fits(rows, T) || window / 2 > UINT_MAX / 2)
                return cudaErrorInvalidValue;
        switch (t) {
        case CLF_CUDA_F32:
                softmax_kernel<<<(unsigned)rows, SOFTMAX_THREADS, 0, s>>>((float *)p, scores, mask, z0, (unsigned)T,
                                                                          (unsigned)heads, half_w, window > 0);
                break;
        case CLF_CUDA_F16:
                softmax_kernel<<<(unsigned)rows, SOFTMAX_THREADS, 0, s>>>((__half *)p, scores, mask, z0, (unsigned)T,
                                                                          (unsigned)heads, half_w, window > 0);
                break;
        case CLF_CUDA_BF16:
                softmax_kernel<<<(unsigned)rows, SOFTMAX_THREADS, 0, s>>>(
                        (__nv_bfloat16 *)p, scores, mask, z0, (unsigned)T, (unsigned)heads, half_w, window > 0);
                break;
        }
        return cudaGetLastError();
}

cudaError_t clf_cuda_attn_merge(float *ctx, const float *o, size_t B, size_t T, size_t heads, size_t hd,
                                cudaStream_t s) {
        if (B * T == 0 || heads * hd == 0)
                return cudaSuccess;
        if (!fits(B * T, heads * hd))
                return cudaErrorInvalidValue;
        attn_merge_kernel<<<(unsigned)(B * T), ROW_THREADS, 0, s>>>(ctx, o, (unsigned)T, (unsigned)heads, (unsigned)hd);
        return cudaGetLastError();
}

cudaError_t clf_cuda_pool(float *out, const float *x, const float *mask, size_t B, size_t T, size_t H,
                          enum clf_pooling mode, cudaStream_t s) {
        if (B == 0 || H == 0)
                return cudaSuccess;
        if (!fits(B, H) || T > UINT_MAX)
                return cudaErrorInvalidValue;
        pool_kernel<<<(unsigned)B, ROW_THREADS, 0, s>>>(out, x, mask, (unsigned)T, (unsigned)H, mode == CLF_POOL_MEAN);
        return cudaGetLastError();
}
