/* config.json of a Hugging Face encoder checkpoint: the architecture
 * (model_type bert / distilbert / modernbert, and the head from
 * architectures[0]: *ForSequenceClassification, *ForTokenClassification,
 * else a bare encoder giving embeddings), the sizes, the labels.
 *
 * Multi-head checkpoints (switchyard's own format): a BERT encoder
 * (architectures ["BertModel"]) whose config.json lists its heads in
 * "switchyard_heads": [{"name", "kind": "sequence"|"token", "pooling":
 * "mean"|"cls", "labels": [...]}, ...]; one encoder pass serves them all.
 * Every classifier is described by clf_heads[]: a single-head checkpoint has
 * one head named "" (the caller names its role), whose labels are also
 * the legacy task / num_labels / labels fields; a multi-head one has
 * task, num_labels and labels of its first head. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum clf_arch { CLF_ARCH_BERT, CLF_ARCH_DISTILBERT, CLF_ARCH_MODERNBERT };
enum clf_task { CLF_TASK_SEQUENCE, CLF_TASK_TOKEN, CLF_TASK_EMBEDDING };
enum clf_act { CLF_ACT_GELU, CLF_ACT_GELU_TANH, CLF_ACT_RELU, CLF_ACT_SILU, CLF_ACT_TANH };
enum clf_pooling { CLF_POOL_CLS, CLF_POOL_MEAN };

struct clf_head_cfg {
        char *name;               /* "" for a single-head checkpoint */
        enum clf_task kind;       /* CLF_TASK_SEQUENCE or CLF_TASK_TOKEN */
        enum clf_pooling pooling; /* sequence heads */
        bool multi_label;         /* sigmoid scores instead of softmax */
        size_t num_labels;
        char **labels;
};

struct clf_config {
        enum clf_arch arch;
        enum clf_task task;
        size_t vocab_size, hidden, layers, heads, intermediate, max_pos, type_vocab;
        float norm_eps;
        enum clf_act act; /* hidden_act / activation / hidden_activation */
        /* ModernBERT */
        size_t global_every; /* global_attn_every_n_layers */
        size_t local_window; /* local_attention: |i - j| <= window / 2 */
        float global_theta, local_theta;
        bool norm_bias, attn_bias, mlp_bias, classifier_bias;
        enum clf_act classifier_act;
        enum clf_pooling pooling; /* classifier_pooling (sequence head) */
        /* heads */
        bool multi_label; /* problem_type multi_label_classification: sigmoid */
        size_t num_labels;
        char **labels; /* id2label, "LABEL_<i>" where missing */
        long pad_id;
        /* classification heads (0 for a bare encoder); clf_heads[0].labels == labels */
        bool multi_head; /* switchyard_heads */
        size_t n_clf_heads;
        struct clf_head_cfg *clf_heads;
        /* switchyard extensions (BERT multi-head checkpoints):
         * "switchyard_token_types": "case": each token's type id is the case
         *  of its original characters (clf_case_type()), not 0;
         * "switchyard_lexical": {"head", "file", "weight"}: the sequence head
         *  named head is mixed with the lexical model in file (clf_lexical.h):
         *  log p = log p_encoder + weight * log p_lexical, renormalized;
         * "switchyard_token_crf": {"head", "file", "encoder_weight"}: the
         *  token head named head is read with the word CRF in file
         *  (clf_lexical.h): a word's emission is the CRF's plus
         *  encoder_weight (default 0, at most 100) times the head's log
         *  softmax, and the CRF's transitions make the Viterbi path
         *  (clf_spans.h clf_token_tags). */
        bool case_types;
        int lexical_head; /* -1: none */
        float lexical_weight;
        char lexical_file[128];
        int crf_head; /* -1: none */
        float crf_encoder_weight;
        char crf_file[128];
};

#define CLF_MAX_HEADS 16
#define CLF_HEAD_NAME_MAX 64

/* Returns 0, -ENOENT, -EBADMSG (malformed or inconsistent sizes),
 * -EOPNOTSUPP (model_type or options not implemented), -ENOMEM. */
int clf_config_load(const char *path, struct clf_config *ret_cfg);
void clf_config_free(struct clf_config *cfg);

const char *clf_arch_name(enum clf_arch a);
/* index of the head named name, -1 if none */
int clf_config_head(const struct clf_config *cfg, const char *name);
