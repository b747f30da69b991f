/* Entity spans from token tags (see clf_spans.h). */
#include "classifier/clf_spans.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_lexical.h"
#include "classifier/clf_pipeline.h"

const char *clf_entity_of(const char *label, size_t *ret_len, char *ret_prefix) {
        *ret_prefix = 0;
        if (strcmp(label, "O") == 0 || label[0] == 0) {
                *ret_len = 0;
                return NULL;
        }
        if ((label[0] == 'B' || label[0] == 'I' || label[0] == 'E' || label[0] == 'S') &&
            (label[1] == '-' || label[1] == '_') && label[2]) {
                *ret_prefix = label[0];
                label += 2;
        }
        *ret_len = strlen(label);
        return label;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_wordish(char ch) {
        unsigned char c = (unsigned char)ch;

        return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* token t continues the word of the content token before it (see clf_spans.h) */
static bool glued(const struct clf_encoding *e, size_t t, size_t prev_end, const char *text, size_t len) {
        size_t s = e->start[t];

        return prev_end != SIZE_MAX && s == prev_end && s > 0 && s < len && is_wordish(text[s]) &&
               is_wordish(text[s - 1]);
}

/* score of each word's tag <- its marginal probability under the CRF
 * (forward-backward over the emissions em [nw * L] and trans, scaled
 * rather than in logs: one exp per tag and word; the inner loops run
 * along rows of T, contiguous) */
#define MARGINALS_SCRATCH(nw, L) (((L) + 1) * (L) + 3 * (nw) * (L) + (L) + (nw))

/* scratch: MARGINALS_SCRATCH(nw, L) floats */
static void crf_marginals(const float *em, size_t nw, size_t L, const float *trans, const uint32_t *word,
                          const int32_t *label, float *score, float *scratch) {
        /* scratch: T [(L + 1) L], E [nw L], a [nw L], b [nw L], g [L], c [nw] */
        float *T = scratch, *E, *a, *b, *g, *c;

        E = T + (L + 1) * L;
        a = E + nw * L;
        b = a + nw * L;
        g = b + nw * L;
        c = g + L;
        for (size_t i = 0; i < (L + 1) * L; i++)
                T[i] = expf(trans[i]);
        for (size_t w = 0; w < nw; w++) {
                float mx = -INFINITY;

                for (size_t j = 0; j < L; j++)
                        mx = em[w * L + j] > mx ? em[w * L + j] : mx;
                for (size_t j = 0; j < L; j++)
                        E[w * L + j] = expf(em[w * L + j] - mx);
        }
        /* forward: a[w] = (a[w - 1] T) .* E[w] / c[w], c[w] its sum */
        for (size_t w = 0; w < nw; w++) {
                float *cur = a + w * L, sum = 0;

                if (w == 0) {
                        memcpy(cur, T + L * L, L * sizeof *cur);
                } else {
                        memset(cur, 0, L * sizeof *cur);
                        for (size_t i = 0; i < L; i++) {
                                float ai = a[(w - 1) * L + i];
                                const float *Ti = T + i * L;

                                for (size_t j = 0; j < L; j++)
                                        cur[j] += ai * Ti[j];
                        }
                }
                for (size_t j = 0; j < L; j++) {
                        cur[j] *= E[w * L + j];
                        sum += cur[j];
                }
                c[w] = sum > 0 ? sum : 1;
                for (size_t j = 0; j < L; j++)
                        cur[j] /= c[w];
        }
        /* backward: b[nw - 1] = 1, b[w] = T (E[w + 1] .* b[w + 1]) / c[w + 1] */
        for (size_t i = 0; i < L; i++)
                b[(nw - 1) * L + i] = 1;
        for (size_t w = nw - 1; w-- > 0;) {
                for (size_t j = 0; j < L; j++)
                        g[j] = E[(w + 1) * L + j] * b[(w + 1) * L + j] / c[w + 1];
                for (size_t i = 0; i < L; i++) {
                        const float *Ti = T + i * L;
                        float v = 0;

                        for (size_t j = 0; j < L; j++)
                                v += Ti[j] * g[j];
                        b[w * L + i] = v;
                }
        }
        for (size_t w = 0; w < nw; w++)
                score[word[w]] = a[w * L + (size_t)label[word[w]]] * b[w * L + (size_t)label[word[w]]];
}

int clf_token_tags(const struct clf_head_cfg *head, const struct clf_encoding *tokens, const char *text, size_t len,
                   const float *logits, const float *trans, const struct clf_token_crf *crf, int32_t *label,
                   float *score) {
        size_t L = head->num_labels, n = tokens->n, nw = 0, prev_end = SIZE_MAX;
        bool viterbi = (trans || crf) && !head->multi_label && n > 0 && L <= UINT16_MAX;
        /* one block: p [L], dp [2 L], em [n L], the CRF's marginals' scratch, word
         * token/start/end [3 n] (uint32), bp [n L] (uint16) */
        size_t ms = viterbi && crf ? MARGINALS_SCRATCH(n, L) : 0;
        float *p = malloc(
                3 * L * sizeof *p +
                (viterbi ? (n * L + ms) * sizeof(float) + 3 * n * sizeof(uint32_t) + n * L * sizeof(uint16_t) : 0));
        float *dp = p + L, *em = dp + 2 * L, *mscratch = em + n * L;
        uint32_t *word = (uint32_t *)(mscratch + ms), *ws = word + n, *we = ws + n;
        uint16_t *bp = (uint16_t *)(we + n);
        int r = 0;

        if (!p)
                return -ENOMEM;
        for (size_t t = 0; t < n; t++) {
                label[t] = clf_normalize(logits + t * L, L, head->multi_label, p);
                score[t] = p[label[t]];
        }
        if (!viterbi) {
                free(p);
                return 0;
        }
        if (crf)
                trans = clf_lexical_transitions(crf->model);
        for (size_t t = 0; t < n; t++) {
                if (tokens->end[t] <= tokens->start[t])
                        continue;
                if (!glued(tokens, t, prev_end, text, len)) {
                        word[nw] = (uint32_t)t;
                        ws[nw++] = tokens->start[t];
                }
                we[nw - 1] = tokens->end[t];
                prev_end = tokens->end[t];
        }
        /* emissions: log softmax of the words' first tokens, times the
         * encoder weight plus the CRF's scores with a CRF (the CRF's alone
         * at weight 0) */
        if (crf && (r = clf_lexical_word_scores(crf->model, text, len, ws, we, nw, em)) < 0)
                goto out;
        for (size_t w = 0; w < nw && !(crf && crf->encoder_weight == 0); w++) {
                const float *lg = logits + (size_t)word[w] * L;
                float mx = -INFINITY, sum = 0, lse, *e = em + w * L;

                for (size_t j = 0; j < L; j++)
                        mx = lg[j] > mx ? lg[j] : mx;
                for (size_t j = 0; j < L; j++)
                        sum += expf(lg[j] - mx);
                lse = mx + logf(sum);
                for (size_t j = 0; j < L; j++)
                        e[j] = crf ? e[j] + crf->encoder_weight * (lg[j] - lse) : lg[j] - lse;
        }
        /* dp over words: cur[j] = best score of a path ending in tag j; the
         * previous tag i in the outer loop, so that the inner one runs
         * along a row of trans (ties keep the lowest i, as before) */
        for (size_t w = 0; w < nw; w++) {
                float *cur = dp + (w % 2) * L, *prv = dp + ((w + 1) % 2) * L;
                const float *e = em + w * L;
                uint16_t *arg = bp + w * L;

                if (w == 0) {
                        for (size_t j = 0; j < L; j++) {
                                cur[j] = trans[L * L + j] + e[j];
                                arg[j] = 0;
                        }
                        continue;
                }
                for (size_t j = 0; j < L; j++) {
                        cur[j] = -INFINITY;
                        arg[j] = 0;
                }
                for (size_t i = 0; i < L; i++) {
                        const float *ti = trans + i * L;
                        float pi = prv[i];

                        for (size_t j = 0; j < L; j++) {
                                float v = pi + ti[j];

                                if (v > cur[j]) {
                                        cur[j] = v;
                                        arg[j] = (uint16_t)i;
                                }
                        }
                }
                for (size_t j = 0; j < L; j++)
                        cur[j] += e[j];
        }
        if (nw > 0) {
                const float *last = dp + ((nw - 1) % 2) * L;
                size_t j = 0;

                for (size_t i = 1; i < L; i++)
                        if (last[i] > last[j])
                                j = i;
                for (size_t w = nw; w-- > 0;) {
                        size_t t = word[w];

                        label[t] = (int32_t)j;
                        clf_normalize(em + w * L, L, false, p);
                        score[t] = p[j];
                        j = bp[w * L + j];
                }
        }
        if (crf && nw > 0)
                crf_marginals(em, nw, L, trans, word, label, score, mscratch);
out:
        free(p);
        return r;
}

static bool email_local(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '%' || c == '+' || c == '-';
}

static bool email_domain(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* an EMAIL_ADDRESS span holding an '@' covers the whole address around it:
 * the local part before it, the domain after it, no trailing '.' or '-' */
static void complete_email(const char *text, size_t len, size_t *start, size_t *end) {
        const char *at = memchr(text + *start, '@', *end - *start);
        size_t a, b;

        if (!at)
                return;
        a = (size_t)(at - text);
        b = a + 1;
        while (a > 0 && email_local(text[a - 1]))
                a--;
        while (b < len && email_domain(text[b]))
                b++;
        while (b > (size_t)(at - text) + 1 && (text[b - 1] == '.' || text[b - 1] == '-'))
                b--;
        if (a < (size_t)(at - text) && b > (size_t)(at - text) + 1) {
                *start = a;
                *end = b;
        }
}

size_t clf_spans(const struct clf_head_cfg *head, const struct clf_encoding *tokens, const int32_t *token_label,
                 const float *token_score, const char *text, size_t len, float min_score, struct clf_span *out,
                 size_t cap) {
        const char *cur = NULL;
        size_t cur_len = 0, start = 0, end = 0, count = 0, prev_end = SIZE_MAX;
        float score = 0;

        for (size_t t = 0; t <= tokens->n; t++) {
                const char *ent = NULL;
                size_t ent_len = 0, s = 0, e = 0;
                char pfx = 0;
                bool content = t < tokens->n && tokens->end[t] > tokens->start[t];

                if (t < tokens->n && !content)
                        continue;
                if (content) {
                        s = tokens->start[t];
                        e = tokens->end[t];
                        if (glued(tokens, t, prev_end, text, len)) {
                                prev_end = e;
                                if (cur && e > end)
                                        end = e; /* the rest of the word */
                                continue;
                        }
                        prev_end = e;
                        if (token_label[t] >= 0 && (size_t)token_label[t] < head->num_labels)
                                ent = clf_entity_of(head->labels[token_label[t]], &ent_len, &pfx);
                        if (ent && cur && (pfx == 'I' || pfx == 'E' || pfx == 0) && ent_len == cur_len &&
                            memcmp(ent, cur, cur_len) == 0) {
                                end = e;
                                if (token_score[t] < score)
                                        score = token_score[t];
                                continue;
                        }
                }
                if (cur) {
                        if (end > len)
                                end = len;
                        while (start > 0 && ((unsigned char)text[start] & 0xc0) == 0x80)
                                start--;
                        while (end < len && ((unsigned char)text[end] & 0xc0) == 0x80)
                                end++;
                        while (start < end && is_space(text[start]))
                                start++;
                        if (start < end && cur_len == 13 && memcmp(cur, "EMAIL_ADDRESS", 13) == 0)
                                complete_email(text, len, &start, &end);
                        if (start < end && score >= min_score) {
                                if (count < cap)
                                        out[count] = (struct clf_span){ .start = (uint32_t)start,
                                                                        .end = (uint32_t)end,
                                                                        .score = score,
                                                                        .type = cur,
                                                                        .type_len = cur_len };
                                count++;
                        }
                        cur = NULL;
                }
                if (ent) {
                        cur = ent;
                        cur_len = ent_len;
                        start = s;
                        end = e;
                        score = token_score[t];
                }
        }
        return count;
}
