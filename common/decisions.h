/* v0.3 decisions (common/config_v03.h), compiled at load and evaluated once
 * per request after the classifier's answer: the highest-priority decision
 * whose rules hold wins.
 *
 * Keyword signals are matched without a pass per signal: every exact
 * keyword (whole words, or a phrase of whole words) is in one hash table
 * built at load; a request's text is cut into words once and each run of
 * 1..N words (N: the longest keyword) is looked up, so the cost grows with
 * the text, not with the number of signals or decisions. Keywords that are
 * not plain words ("c++") are searched as substrings; regex signals are run
 * only when a decision reaches them. A decision whose rules need an exact
 * keyword signal that saw nothing is passed over with one look (its gate).
 * Signal values are computed at most once
 * per request (generation stamps: nothing is cleared between requests).
 *
 * A state (scratch arrays sized to one configuration) belongs to one
 * thread; the configuration is read-only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config_v03.h"

struct sy_kw_index;
struct sy_dec_state;

/* Builds v->index: 0, -ENOMEM. (config_v03.c calls it.) */
int sy_decisions_compile(struct sy_v03 *v);
void sy_decisions_index_free(struct sy_kw_index *ix);

struct sy_dec_input {
        const char *text; /* the user text (need not be NUL-terminated) */
        size_t len;
        const char *category; /* the classifier's category; NULL or "": none (domains false) */
        float jailbreak;      /* < 0: no score (jailbreak conditions false) */
        /* PII: the best span score of each type (0: not seen) */
        const float *pii_score;
        const char *const *pii_types;
        unsigned n_pii;
};

int sy_dec_state_new(const struct sy_v03 *v, struct sy_dec_state **ret);
void sy_dec_state_free(struct sy_dec_state *st);
/* Was st made for v? */
bool sy_dec_state_for(const struct sy_dec_state *st, const struct sy_v03 *v);

/* The winning decision's index in v->decisions, or -1. matched (cap
 * bytes, may be NULL) gets the keywords that matched in the winner's
 * keyword conditions, comma-separated ("" if none). */
int sy_decide(const struct sy_v03 *v, struct sy_dec_state *st, const struct sy_dec_input *in, char *matched,
              size_t cap);
