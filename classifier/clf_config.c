#include "classifier/clf_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_json.h"
#include "classifier/clf_tokenizer.h"
#include "common/file.h"
#include "common/log.h"

#define MAX_MEMBERS 512

const char *clf_arch_name(enum clf_arch a) {
        switch (a) {
        case CLF_ARCH_BERT:
                return "bert";
        case CLF_ARCH_DISTILBERT:
                return "distilbert";
        case CLF_ARCH_MODERNBERT:
                return "modernbert";
        }
        return "?";
}

int clf_config_head(const struct clf_config *c, const char *name) {
        for (size_t i = 0; i < c->n_clf_heads; i++)
                if (strcmp(c->clf_heads[i].name, name) == 0)
                        return (int)i;
        return -1;
}

static void free_labels(char **labels, size_t n) {
        for (size_t i = 0; labels && i < n; i++)
                free(labels[i]);
        free(labels);
}

void clf_config_free(struct clf_config *c) {
        if (!c)
                return;
        if (c->n_clf_heads == 0 || !c->clf_heads || c->clf_heads[0].labels != c->labels)
                free_labels(c->labels, c->num_labels);
        for (size_t h = 0; c->clf_heads && h < c->n_clf_heads; h++) {
                free(c->clf_heads[h].name);
                free_labels(c->clf_heads[h].labels, c->clf_heads[h].num_labels);
        }
        free(c->clf_heads);
        c->clf_heads = NULL;
        c->n_clf_heads = 0;
        c->labels = NULL;
        c->num_labels = 0;
}

/* one element of switchyard_heads */
static int parse_head(const struct json_member *el, struct clf_head_cfg *h) {
        struct json_member m, lab;
        size_t it = 0, n = 0;
        char *s = NULL;
        int r;

        if (el->type != JSON_OBJECT)
                return -EBADMSG;
        if (clf_json_get(el->val, el->val_len, "name", &m) <= 0 || clf_json_strdup(&m, &h->name) < 0)
                return -EBADMSG;
        if (!h->name[0] || strlen(h->name) >= CLF_HEAD_NAME_MAX)
                return -EBADMSG;
        for (const char *p = h->name; *p; p++)
                if ((unsigned char)*p <= 0x20 || *p == '"' || *p == '\\' || (unsigned char)*p >= 0x7f)
                        return -EBADMSG; /* a JSON key and a tensor name as it is */
        h->kind = CLF_TASK_SEQUENCE;
        if ((r = clf_json_get(el->val, el->val_len, "kind", &m)) < 0)
                return r;
        if (r > 0) {
                if (clf_json_strdup(&m, &s) < 0)
                        return -EBADMSG;
                if (strcmp(s, "token") == 0)
                        h->kind = CLF_TASK_TOKEN;
                else if (strcmp(s, "sequence") != 0)
                        r = -EOPNOTSUPP;
                free(s);
                s = NULL;
                if (r < 0)
                        return r;
        }
        h->pooling = CLF_POOL_MEAN;
        if ((r = clf_json_get(el->val, el->val_len, "pooling", &m)) < 0)
                return r;
        if (r > 0) {
                if (clf_json_strdup(&m, &s) < 0)
                        return -EBADMSG;
                if (strcmp(s, "cls") == 0)
                        h->pooling = CLF_POOL_CLS;
                else if (strcmp(s, "mean") != 0)
                        r = -EOPNOTSUPP;
                free(s);
                if (r < 0)
                        return r;
        }
        if ((r = clf_json_get(el->val, el->val_len, "problem_type", &m)) < 0)
                return r;
        if (r > 0 && m.type == JSON_STRING) {
                if (clf_json_strdup(&m, &s) < 0)
                        return -EBADMSG;
                h->multi_label = strcmp(s, "multi_label_classification") == 0;
                free(s);
        }
        if (clf_json_get(el->val, el->val_len, "labels", &m) <= 0 || m.type != JSON_ARRAY)
                return -EBADMSG;
        while ((r = json_iter(m.val, m.val_len, &it, &lab)) > 0)
                n++;
        if (r < 0 || n == 0 || n > (1u << 16))
                return -EBADMSG;
        h->labels = calloc(n, sizeof *h->labels);
        if (!h->labels)
                return -ENOMEM;
        h->num_labels = n;
        it = 0;
        for (size_t i = 0; i < n && json_iter(m.val, m.val_len, &it, &lab) > 0; i++)
                if ((r = clf_json_strdup(&lab, &h->labels[i])) < 0)
                        return r == -ENOMEM ? r : -EBADMSG;
        return 0;
}

/* switchyard_heads: the heads of a multi-head checkpoint */
static int parse_heads(const struct json_member *arr, struct clf_config *c) {
        struct json_member el;
        size_t it = 0, n = 0;
        int r;

        if (arr->type != JSON_ARRAY)
                return -EBADMSG;
        while ((r = json_iter(arr->val, arr->val_len, &it, &el)) > 0)
                n++;
        if (r < 0 || n == 0 || n > CLF_MAX_HEADS)
                return -EBADMSG;
        c->clf_heads = calloc(n, sizeof *c->clf_heads);
        if (!c->clf_heads)
                return -ENOMEM;
        it = 0;
        for (size_t i = 0; i < n; i++) {
                if (json_iter(arr->val, arr->val_len, &it, &el) <= 0)
                        return -EBADMSG;
                c->n_clf_heads = i + 1;
                if ((r = parse_head(&el, &c->clf_heads[i])) < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(c->clf_heads[j].name, c->clf_heads[i].name) == 0)
                                return -EBADMSG;
        }
        /* the legacy fields describe the first head */
        free_labels(c->labels, c->num_labels);
        c->multi_head = true;
        c->task = c->clf_heads[0].kind;
        c->multi_label = c->clf_heads[0].multi_label;
        c->num_labels = c->clf_heads[0].num_labels;
        c->labels = c->clf_heads[0].labels;
        return 0;
}

/* a single-head checkpoint: one head named "" over the legacy fields */
static int legacy_head(struct clf_config *c) {
        if (c->task == CLF_TASK_EMBEDDING)
                return 0;
        c->clf_heads = calloc(1, sizeof *c->clf_heads);
        if (!c->clf_heads || !(c->clf_heads[0].name = strdup(""))) {
                free(c->clf_heads);
                c->clf_heads = NULL;
                return -ENOMEM;
        }
        c->n_clf_heads = 1;
        c->clf_heads[0].kind = c->task;
        c->clf_heads[0].pooling = c->arch == CLF_ARCH_MODERNBERT ? c->pooling : CLF_POOL_CLS;
        c->clf_heads[0].multi_label = c->multi_label;
        c->clf_heads[0].num_labels = c->num_labels;
        c->clf_heads[0].labels = c->labels;
        return 0;
}

/* {"head", "file", <wkey>} of switchyard_lexical / switchyard_token_crf: the
 * head (of kind, single-label), a file name in the model directory, a
 * weight in [wmin, 100] (dflt when absent; wmin itself excluded when
 * wmin_open) */
static int parse_beside(const struct json_member *m, const char *path, const char *key, enum clf_task kind,
                        const char *wkey, double dflt, double wmin, bool wmin_open, struct clf_config *c, int *ret_head,
                        char *file, size_t file_size, float *ret_w) {
        struct json_member x;
        char *s = NULL;
        double w = dflt;
        int r;

        if (m->type != JSON_OBJECT || clf_json_get(m->val, m->val_len, "head", &x) <= 0 || clf_json_strdup(&x, &s) < 0)
                return -EBADMSG;
        *ret_head = clf_config_head(c, s);
        free(s);
        s = NULL;
        if (*ret_head < 0 || c->clf_heads[*ret_head].kind != kind || c->clf_heads[*ret_head].multi_label) {
                log_debug("classifier: %s: %s.head: no such single-label %s head", path, key,
                          kind == CLF_TASK_SEQUENCE ? "sequence" : "token");
                return -EBADMSG;
        }
        if (clf_json_get(m->val, m->val_len, "file", &x) <= 0 || clf_json_strdup(&x, &s) < 0)
                return -EBADMSG;
        r = (!*s || strchr(s, '/') || s[0] == '.' || strlen(s) >= file_size) ? -EBADMSG : 0;
        if (r == 0)
                strcpy(file, s);
        free(s);
        if (r < 0)
                return r;
        if (clf_json_get(m->val, m->val_len, wkey, &x) > 0 && clf_json_double(&x, &w) < 0)
                return -EBADMSG;
        if (!(wmin_open ? w > wmin : w >= wmin) || !(w <= 100))
                return -EBADMSG;
        *ret_w = (float)w;
        return 0;
}

/* switchyard_token_types, switchyard_lexical, switchyard_token_crf (see clf_config.h) */
static int parse_extensions(const struct json_member *top, size_t n, const char *path, struct clf_config *c) {
        const struct json_member *m;
        char *s = NULL;
        int r;

        c->lexical_head = -1;
        c->crf_head = -1;
        if ((m = json_find(top, n, "switchyard_token_types")) && m->type != JSON_NULL) {
                if (clf_json_strdup(m, &s) < 0)
                        return -EBADMSG;
                r = strcmp(s, "case") == 0 ? 0 : -EOPNOTSUPP;
                free(s);
                if (r < 0 || c->arch != CLF_ARCH_BERT || c->type_vocab < CLF_CASE_TYPES) {
                        log_debug("classifier: %s: switchyard_token_types: only \"case\" on BERT with "
                                  "type_vocab_size >= %d",
                                  path, CLF_CASE_TYPES);
                        return -EOPNOTSUPP;
                }
                c->case_types = true;
        }
        if ((m = json_find(top, n, "switchyard_lexical")) && m->type != JSON_NULL &&
            (r = parse_beside(m, path, "switchyard_lexical", CLF_TASK_SEQUENCE, "weight", 1.0, 0, true, c,
                              &c->lexical_head, c->lexical_file, sizeof c->lexical_file, &c->lexical_weight)) < 0)
                return r;
        if ((m = json_find(top, n, "switchyard_token_crf")) && m->type != JSON_NULL &&
            (r = parse_beside(m, path, "switchyard_token_crf", CLF_TASK_TOKEN, "encoder_weight", 0.0, 0, false, c,
                              &c->crf_head, c->crf_file, sizeof c->crf_file, &c->crf_encoder_weight)) < 0)
                return r;
        return 0;
}

static int get_size(const struct json_member *top, size_t n, const char *key, size_t dflt, size_t max, size_t *ret) {
        const struct json_member *m = json_find(top, n, key);
        int64_t v;

        if (!m || m->type == JSON_NULL) {
                *ret = dflt;
                return 0;
        }
        if (clf_json_int64(m, &v) < 0 || v < 0 || (uint64_t)v > max)
                return -EBADMSG;
        *ret = (size_t)v;
        return 0;
}

static int get_float(const struct json_member *top, size_t n, const char *key, float dflt, float *ret) {
        const struct json_member *m = json_find(top, n, key);
        double v;

        if (!m || m->type == JSON_NULL) {
                *ret = dflt;
                return 0;
        }
        if (clf_json_double(m, &v) < 0)
                return -EBADMSG;
        *ret = (float)v;
        return 0;
}

static bool get_flag(const struct json_member *top, size_t n, const char *key, bool dflt) {
        const struct json_member *m = json_find(top, n, key);
        bool v;

        if (!m || clf_json_bool(m, &v) < 0)
                return dflt;
        return v;
}

/* string member into buf ("" when absent) */
static int get_str(const struct json_member *top, size_t n, const char *key, char *buf, size_t cap) {
        const struct json_member *m = json_find(top, n, key);
        int r;

        buf[0] = 0;
        if (!m || m->type == JSON_NULL)
                return 0;
        if (m->type != JSON_STRING || (r = json_string_decode(m->val, m->val_len, buf, cap - 1)) < 0)
                return -EBADMSG;
        buf[r] = 0;
        return 0;
}

static int parse_act(const char *s, enum clf_act dflt, enum clf_act *ret) {
        if (!*s)
                *ret = dflt;
        else if (strcmp(s, "gelu") == 0)
                *ret = CLF_ACT_GELU;
        else if (strcmp(s, "gelu_new") == 0 || strcmp(s, "gelu_pytorch_tanh") == 0 || strcmp(s, "gelu_fast") == 0)
                *ret = CLF_ACT_GELU_TANH;
        else if (strcmp(s, "relu") == 0)
                *ret = CLF_ACT_RELU;
        else if (strcmp(s, "silu") == 0 || strcmp(s, "swish") == 0)
                *ret = CLF_ACT_SILU;
        else if (strcmp(s, "tanh") == 0)
                *ret = CLF_ACT_TANH;
        else
                return -EOPNOTSUPP;
        return 0;
}

static int parse_labels(const struct json_member *top, size_t n, struct clf_config *c) {
        const struct json_member *m = json_find(top, n, "id2label");
        struct json_member el;
        size_t it = 0, count = 0;
        int r;

        if (m && m->type == JSON_OBJECT) {
                while ((r = json_iter(m->val, m->val_len, &it, &el)) > 0)
                        count++;
                if (r < 0)
                        return -EBADMSG;
        }
        if (count == 0 && get_size(top, n, "num_labels", 0, 1u << 20, &count) < 0)
                return -EBADMSG;
        if (count == 0 && c->task != CLF_TASK_EMBEDDING)
                count = 2; /* transformers' default */
        if (count > (1u << 20))
                return -EBADMSG;
        c->num_labels = count;
        c->labels = calloc(count ? count : 1, sizeof *c->labels);
        if (!c->labels)
                return -ENOMEM;
        it = 0;
        while (m && m->type == JSON_OBJECT && (r = json_iter(m->val, m->val_len, &it, &el)) > 0) {
                char key[32], *end;
                long id;

                if (clf_json_key(&el, key, sizeof key) < 0)
                        return -EBADMSG;
                id = strtol(key, &end, 10);
                if (*end || end == key || id < 0 || (size_t)id >= count)
                        return -EBADMSG; /* ids must be 0..n-1 */
                free(c->labels[id]);     /* a repeated id: the last one counts */
                c->labels[id] = NULL;
                if ((r = clf_json_strdup(&el, &c->labels[id])) < 0)
                        return r;
        }
        for (size_t i = 0; i < count; i++)
                if (!c->labels[i]) {
                        char buf[32];

                        snprintf(buf, sizeof buf, "LABEL_%zu", i);
                        if (!(c->labels[i] = strdup(buf)))
                                return -ENOMEM;
                }
        return 0;
}

int clf_config_load(const char *path, struct clf_config *ret_cfg) {
        struct json_limits lim = { .max_depth = 32, .max_members = MAX_MEMBERS };
        struct json_member *top = NULL;
        struct clf_config c = { 0 };
        const struct json_member *m;
        char type[64], s[64];
        char *buf = NULL;
        size_t len, n;
        int r;

        if ((r = sy_read_file(path, 16u << 20, &buf, &len)) < 0)
                return r;
        top = malloc(MAX_MEMBERS * sizeof *top);
        if (!top) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = json_scan_object(buf, len, &lim, top, &n, NULL)) < 0) {
                r = r == -E2BIG ? -EOPNOTSUPP : -EBADMSG;
                goto fail;
        }
        if ((r = get_str(top, n, "model_type", type, sizeof type)) < 0)
                goto fail;
        if (strcmp(type, "bert") == 0)
                c.arch = CLF_ARCH_BERT;
        else if (strcmp(type, "distilbert") == 0)
                c.arch = CLF_ARCH_DISTILBERT;
        else if (strcmp(type, "modernbert") == 0)
                c.arch = CLF_ARCH_MODERNBERT;
        else {
                log_debug("classifier: %s: model_type '%s' not supported", path, type);
                r = -EOPNOTSUPP;
                goto fail;
        }
        c.task = CLF_TASK_EMBEDDING;
        if ((m = json_find(top, n, "architectures")) && m->type == JSON_ARRAY) {
                struct json_member el;
                size_t it = 0;

                if (json_iter(m->val, m->val_len, &it, &el) > 0 && el.type == JSON_STRING) {
                        char a[128];
                        int k = json_string_decode(el.val, el.val_len, a, sizeof a - 1);

                        if (k >= 0) {
                                a[k] = 0;
                                if (strstr(a, "ForSequenceClassification"))
                                        c.task = CLF_TASK_SEQUENCE;
                                else if (strstr(a, "ForTokenClassification"))
                                        c.task = CLF_TASK_TOKEN;
                        }
                }
        }
        r = -EBADMSG;
        if (c.arch == CLF_ARCH_DISTILBERT) {
                if (get_size(top, n, "dim", 768, 1u << 16, &c.hidden) < 0 ||
                    get_size(top, n, "n_layers", 6, 1024, &c.layers) < 0 ||
                    get_size(top, n, "n_heads", 12, 1024, &c.heads) < 0 ||
                    get_size(top, n, "hidden_dim", 3072, 1u << 18, &c.intermediate) < 0 ||
                    get_str(top, n, "activation", s, sizeof s) < 0)
                        goto fail;
                c.norm_eps = 1e-12f;
                c.type_vocab = 0;
        } else {
                if (get_size(top, n, "hidden_size", 768, 1u << 16, &c.hidden) < 0 ||
                    get_size(top, n, "num_hidden_layers", 12, 1024, &c.layers) < 0 ||
                    get_size(top, n, "num_attention_heads", 12, 1024, &c.heads) < 0 ||
                    get_size(top, n, "intermediate_size", c.arch == CLF_ARCH_BERT ? 3072 : 1152, 1u << 18,
                             &c.intermediate) < 0 ||
                    get_str(top, n, c.arch == CLF_ARCH_BERT ? "hidden_act" : "hidden_activation", s, sizeof s) < 0)
                        goto fail;
        }
        if ((r = parse_act(s, CLF_ACT_GELU, &c.act)) < 0)
                goto fail;
        r = -EBADMSG;
        if (get_size(top, n, "vocab_size", 30522, 1u << 24, &c.vocab_size) < 0 ||
            get_size(top, n, "max_position_embeddings", c.arch == CLF_ARCH_MODERNBERT ? 8192 : 512, 1u << 20,
                     &c.max_pos) < 0)
                goto fail;
        if (c.arch == CLF_ARCH_BERT) {
                if (get_size(top, n, "type_vocab_size", 2, 1u << 16, &c.type_vocab) < 0 ||
                    get_float(top, n, "layer_norm_eps", 1e-12f, &c.norm_eps) < 0 ||
                    get_str(top, n, "position_embedding_type", s, sizeof s) < 0)
                        goto fail;
                if (*s && strcmp(s, "absolute") != 0) {
                        r = -EOPNOTSUPP;
                        goto fail;
                }
        }
        if (c.arch == CLF_ARCH_MODERNBERT) {
                if (get_float(top, n, "norm_eps", 1e-5f, &c.norm_eps) < 0 ||
                    get_size(top, n, "global_attn_every_n_layers", 3, 1024, &c.global_every) < 0 ||
                    get_size(top, n, "local_attention", 128, 1u << 20, &c.local_window) < 0 ||
                    get_float(top, n, "global_rope_theta", 160000.f, &c.global_theta) < 0 ||
                    get_float(top, n, "local_rope_theta", 10000.f, &c.local_theta) < 0 ||
                    get_str(top, n, "classifier_activation", s, sizeof s) < 0)
                        goto fail;
                if ((r = parse_act(s, CLF_ACT_GELU, &c.classifier_act)) < 0)
                        goto fail;
                r = -EBADMSG;
                c.norm_bias = get_flag(top, n, "norm_bias", false);
                c.attn_bias = get_flag(top, n, "attention_bias", false);
                c.mlp_bias = get_flag(top, n, "mlp_bias", false);
                c.classifier_bias = get_flag(top, n, "classifier_bias", false);
                if (get_str(top, n, "classifier_pooling", s, sizeof s) < 0)
                        goto fail;
                if (!*s || strcmp(s, "cls") == 0)
                        c.pooling = CLF_POOL_CLS;
                else if (strcmp(s, "mean") == 0)
                        c.pooling = CLF_POOL_MEAN;
                else {
                        r = -EOPNOTSUPP;
                        goto fail;
                }
                if (c.global_every == 0 || c.global_theta <= 0 || c.local_theta <= 0)
                        goto fail;
        }
        if (get_str(top, n, "problem_type", s, sizeof s) < 0)
                goto fail;
        c.multi_label = strcmp(s, "multi_label_classification") == 0;
        {
                size_t pad;

                if (get_size(top, n, "pad_token_id", 0, 1u << 24, &pad) < 0)
                        goto fail;
                c.pad_id = (long)pad;
        }
        if (c.hidden == 0 || c.layers == 0 || c.heads == 0 || c.hidden % c.heads || c.intermediate == 0 ||
            c.vocab_size == 0 || c.max_pos == 0 || c.norm_eps <= 0 ||
            (c.arch == CLF_ARCH_MODERNBERT && (c.hidden / c.heads) % 2)) {
                log_debug("classifier: %s: inconsistent sizes", path);
                goto fail;
        }
        if ((r = parse_labels(top, n, &c)) < 0)
                goto fail;
        if ((m = json_find(top, n, "switchyard_heads")) && m->type != JSON_NULL) {
                if ((r = parse_heads(m, &c)) < 0) {
                        log_debug("classifier: %s: switchyard_heads: %s", path, strerror(-r));
                        goto fail;
                }
        } else if ((r = legacy_head(&c)) < 0) {
                goto fail;
        }
        if ((r = parse_extensions(top, n, path, &c)) < 0)
                goto fail;
        free(top);
        free(buf);
        *ret_cfg = c;
        return 0;
fail:
        clf_config_free(&c);
        free(top);
        free(buf);
        return r;
}
