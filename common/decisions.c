/* v0.3 decision evaluation: see common/decisions.h. */
#include "common/decisions.h"
#include "common/ascii.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PHRASE_WORDS 8
#define MAX_WORDS 65536 /* words of one text looked at */

struct kw_entry {
        uint64_t hash;
        char *phrase; /* normalised: words joined by one space (lower case unless case sensitive) */
        uint32_t kw;  /* keyword index among all */
        uint32_t sig; /* keyword signal */
        bool cs;      /* case sensitive */
        int32_t next; /* next entry of the same bucket chain, -1 */
};

struct sy_kw_index {
        struct kw_entry *e;
        size_t n_e;
        int32_t *buckets; /* head entry per bucket, -1 */
        size_t mask;
        unsigned max_words;
        bool any_cs, any_ci;
        /* keywords that are not plain words: substring search */
        uint32_t *loose; /* keyword index */
        uint32_t *loose_sig;
        size_t n_loose;
        /* keyword index -> its text, its signal */
        const char **kw_text;
        uint32_t *kw_sig;
        /* per decision: an exact keyword signal (OR / AND) that must have
         * matched for its rules to hold, or -1: most decisions are passed
         * over by one look at a stamp */
        int32_t *gate;
};

struct sy_dec_state {
        const struct sy_v03 *v;
        size_t n_kw, n_sig, n_dom; /* the sizes it was made for (a new config at the same address) */
        uint32_t gen;
        uint32_t *kw_seen; /* per keyword: gen when seen */
        uint32_t *sig_gen; /* per keyword signal: gen when count/value valid */
        uint32_t *sig_count;
        int8_t *sig_val;   /* regex signals: -1 unknown */
        uint32_t *dom_gen; /* per domain */
        int8_t *dom_val;
        uint32_t (*words)[2]; /* start, length */
        char *scratch;
        size_t scratch_cap;
};

static bool word_char(unsigned char ch) {
        return isalnum(ch) || ch == '_' || ch >= 0x80;
}

static uint64_t fnv(const char *s, size_t n) {
        uint64_t h = 1469598103934665603ull;

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)s[i];
                h *= 1099511628211ull;
        }
        return h;
}

/* Normalises kw into out (words joined by one space, lower case unless
 * cs): the number of words, or 0 if kw is not plain words and spaces. */
static unsigned normalise(const char *kw, bool cs, char *out, size_t cap) {
        size_t o = 0;
        unsigned words = 0;
        bool in = false;

        for (const char *p = kw; *p; p++) {
                unsigned char ch = (unsigned char)*p;

                if (word_char(ch)) {
                        if (!in && words && o + 1 < cap)
                                out[o++] = ' ';
                        if (!in)
                                words++;
                        in = true;
                        if (o + 1 < cap)
                                out[o++] = cs ? (char)ch : (char)tolower(ch);
                } else if (ch == ' ' || ch == '\t') {
                        in = false;
                } else {
                        return 0;
                }
        }
        if (o >= cap)
                return 0;
        out[o] = 0;
        return words;
}

void sy_decisions_index_free(struct sy_kw_index *ix) {
        if (!ix)
                return;
        for (size_t i = 0; i < ix->n_e; i++)
                free(ix->e[i].phrase);
        free(ix->e);
        free(ix->buckets);
        free(ix->loose);
        free(ix->loose_sig);
        free(ix->kw_text);
        free(ix->kw_sig);
        free(ix->gate);
        free(ix);
}

int sy_decisions_compile(struct sy_v03 *v) {
        struct sy_kw_index *ix = calloc(1, sizeof *ix);
        size_t total = 0, nb = 16;
        uint32_t k = 0;

        if (!ix)
                return -ENOMEM;
        for (size_t i = 0; i < v->n_keywords; i++)
                total += v->keywords[i].n_keywords;
        while (nb < total * 2)
                nb <<= 1;
        ix->e = calloc(total ? total : 1, sizeof *ix->e);
        ix->buckets = malloc(nb * sizeof *ix->buckets);
        ix->loose = calloc(total ? total : 1, sizeof *ix->loose);
        ix->loose_sig = calloc(total ? total : 1, sizeof *ix->loose_sig);
        ix->kw_text = calloc(total ? total : 1, sizeof *ix->kw_text);
        ix->kw_sig = calloc(total ? total : 1, sizeof *ix->kw_sig);
        if (!ix->e || !ix->buckets || !ix->loose || !ix->loose_sig || !ix->kw_text || !ix->kw_sig) {
                sy_decisions_index_free(ix);
                return -ENOMEM;
        }
        ix->mask = nb - 1;
        memset(ix->buckets, 0xff, nb * sizeof *ix->buckets);
        for (size_t i = 0; i < v->n_keywords; i++) {
                struct sy_kw_signal *s = &v->keywords[i];

                s->base = k;
                for (size_t j = 0; j < s->n_keywords; j++, k++) {
                        size_t len = strlen(s->keywords[j]);
                        char *norm = malloc(len + 1);
                        unsigned words;

                        if (!norm) {
                                sy_decisions_index_free(ix);
                                return -ENOMEM;
                        }
                        ix->kw_text[k] = s->keywords[j];
                        ix->kw_sig[k] = (uint32_t)i;
                        words = s->regex ? 0 : normalise(s->keywords[j], s->case_sensitive, norm, len + 1);
                        if (s->regex) {
                                free(norm);
                        } else if (words == 0 || words > MAX_PHRASE_WORDS) {
                                free(norm);
                                ix->loose[ix->n_loose] = k;
                                ix->loose_sig[ix->n_loose++] = (uint32_t)i;
                        } else {
                                struct kw_entry *e = &ix->e[ix->n_e];
                                size_t b;

                                e->phrase = norm;
                                e->hash = fnv(norm, strlen(norm)) ^ (s->case_sensitive ? 0x9e3779b97f4a7c15ull : 0);
                                e->kw = k;
                                e->sig = (uint32_t)i;
                                e->cs = s->case_sensitive;
                                b = e->hash & ix->mask;
                                e->next = ix->buckets[b];
                                ix->buckets[b] = (int32_t)ix->n_e++;
                                if (words > ix->max_words)
                                        ix->max_words = words;
                                if (s->case_sensitive)
                                        ix->any_cs = true;
                                else
                                        ix->any_ci = true;
                        }
                }
        }
        v->n_keyword_total = k;
        ix->gate = malloc((v->n_decisions ? v->n_decisions : 1) * sizeof *ix->gate);
        if (!ix->gate) {
                sy_decisions_index_free(ix);
                return -ENOMEM;
        }
        for (size_t d = 0; d < v->n_decisions; d++) {
                const struct sy_rule *r = &v->rules[v->decisions[d].rule];
                uint32_t n = r->kind == SY_RULE_AND ? r->n : 1;

                ix->gate[d] = -1;
                for (uint32_t i = 0; i < n && ix->gate[d] < 0; i++) {
                        const struct sy_rule *c = r->kind == SY_RULE_AND ? &v->rules[v->kids[r->arg + i]] : r;

                        if (c->kind == SY_RULE_KEYWORD && !v->keywords[c->arg].regex &&
                            v->keywords[c->arg].op != SY_KW_NOR)
                                ix->gate[d] = (int32_t)c->arg;
                }
        }
        v->index = ix;
        return 0;
}

int sy_dec_state_new(const struct sy_v03 *v, struct sy_dec_state **ret) {
        struct sy_dec_state *st = calloc(1, sizeof *st);
        size_t nk = v->n_keyword_total ? v->n_keyword_total : 1, ns = v->n_keywords ? v->n_keywords : 1;
        size_t nd = v->n_domains ? v->n_domains : 1;

        if (!st)
                return -ENOMEM;
        st->v = v;
        st->n_kw = v->n_keyword_total;
        st->n_sig = v->n_keywords;
        st->n_dom = v->n_domains;
        st->kw_seen = calloc(nk, sizeof *st->kw_seen);
        st->sig_gen = calloc(ns, sizeof *st->sig_gen);
        st->sig_count = calloc(ns, sizeof *st->sig_count);
        st->sig_val = calloc(ns, 1);
        st->dom_gen = calloc(nd, sizeof *st->dom_gen);
        st->dom_val = calloc(nd, 1);
        st->words = calloc(MAX_WORDS, sizeof *st->words);
        if (!st->kw_seen || !st->sig_gen || !st->sig_count || !st->sig_val || !st->dom_gen || !st->dom_val ||
            !st->words) {
                sy_dec_state_free(st);
                return -ENOMEM;
        }
        *ret = st;
        return 0;
}

void sy_dec_state_free(struct sy_dec_state *st) {
        if (!st)
                return;
        free(st->kw_seen);
        free(st->sig_gen);
        free(st->sig_count);
        free(st->sig_val);
        free(st->dom_gen);
        free(st->dom_val);
        free(st->words);
        free(st->scratch);
        free(st);
}

bool sy_dec_state_for(const struct sy_dec_state *st, const struct sy_v03 *v) {
        return st && v && st->v == v && st->n_kw == v->n_keyword_total && st->n_sig == v->n_keywords &&
               st->n_dom == v->n_domains;
}

static void seen(struct sy_dec_state *st, uint32_t kw, uint32_t sig) {
        if (st->kw_seen[kw] == st->gen)
                return;
        st->kw_seen[kw] = st->gen;
        if (st->sig_gen[sig] != st->gen) {
                st->sig_gen[sig] = st->gen;
                st->sig_count[sig] = 0;
                st->sig_val[sig] = -1;
        }
        st->sig_count[sig]++;
}

static void lookup(struct sy_dec_state *st, const struct sy_kw_index *ix, const char *p, size_t n, bool cs) {
        uint64_t h = fnv(p, n) ^ (cs ? 0x9e3779b97f4a7c15ull : 0);

        for (int32_t i = ix->buckets[h & ix->mask]; i >= 0; i = ix->e[i].next) {
                const struct kw_entry *e = &ix->e[i];

                if (e->hash == h && e->cs == cs && strlen(e->phrase) == n && !memcmp(e->phrase, p, n))
                        seen(st, e->kw, e->sig);
        }
}

/* a substring of text at a word boundary (ASCII case folded unless cs) */
static bool find_loose(const char *text, size_t len, const char *kw, bool cs) {
        size_t kl = strlen(kw);

        if (!kl || kl > len)
                return false;
        for (size_t i = 0; i + kl <= len; i++) {
                if (cs ? memcmp(text + i, kw, kl) != 0 : strncasecmp(text + i, kw, kl) != 0)
                        continue;
                if (word_char((unsigned char)kw[0]) && i > 0 && word_char((unsigned char)text[i - 1]))
                        continue;
                if (word_char((unsigned char)kw[kl - 1]) && i + kl < len && word_char((unsigned char)text[i + kl]))
                        continue;
                return true;
        }
        return false;
}

static int grow(struct sy_dec_state *st, size_t need) {
        char *p;

        if (need <= st->scratch_cap)
                return 0;
        p = realloc(st->scratch, need);
        if (!p)
                return -ENOMEM;
        st->scratch = p;
        st->scratch_cap = need;
        return 0;
}

/* Every exact keyword of the text, once. */
static void match_keywords(const struct sy_v03 *v, struct sy_dec_state *st, const struct sy_dec_input *in) {
        const struct sy_kw_index *ix = v->index;
        const char *t = in->text;
        size_t nw = 0, i = 0, len = in->len;

        if (!ix || !t)
                return;
        if (ix->n_e) {
                while (i < len && nw < MAX_WORDS) {
                        while (i < len && !word_char((unsigned char)t[i]))
                                i++;
                        if (i >= len)
                                break;
                        st->words[nw][0] = (uint32_t)i;
                        while (i < len && word_char((unsigned char)t[i]))
                                i++;
                        st->words[nw][1] = (uint32_t)(i - st->words[nw][0]);
                        nw++;
                }
                if (grow(st, len + MAX_PHRASE_WORDS + 1) < 0)
                        return;
                for (size_t w = 0; w < nw; w++) {
                        size_t o = 0;

                        for (unsigned n = 1; n <= ix->max_words && w + n <= nw; n++) {
                                const char *src = t + st->words[w + n - 1][0];
                                size_t wl = st->words[w + n - 1][1];

                                if (n > 1)
                                        st->scratch[o++] = ' ';
                                memcpy(st->scratch + o, src, wl);
                                if (ix->any_cs)
                                        lookup(st, ix, st->scratch, o + wl, true);
                                if (ix->any_ci) {
                                        for (size_t q = o; q < o + wl; q++)
                                                st->scratch[q] = (char)tolower((unsigned char)st->scratch[q]);
                                        lookup(st, ix, st->scratch, o + wl, false);
                                }
                                o += wl;
                        }
                }
        }
        for (size_t l = 0; l < ix->n_loose; l++) {
                uint32_t kw = ix->loose[l], sig = ix->loose_sig[l];

                if (find_loose(t, len, ix->kw_text[kw], v->keywords[sig].case_sensitive))
                        seen(st, kw, sig);
        }
}

static uint32_t count_of(const struct sy_dec_state *st, uint32_t sig) {
        return st->sig_gen[sig] == st->gen ? st->sig_count[sig] : 0;
}

/* regex signals: how many of the patterns match (computed once) */
static uint32_t regex_count(const struct sy_v03 *v, struct sy_dec_state *st, const struct sy_dec_input *in,
                            uint32_t sig) {
        const struct sy_kw_signal *s = &v->keywords[sig];

        if (st->sig_gen[sig] == st->gen && st->sig_val[sig] >= 0)
                return st->sig_count[sig];
        st->sig_gen[sig] = st->gen;
        st->sig_count[sig] = 0;
        st->sig_val[sig] = 1;
        if (grow(st, in->len + 1) < 0)
                return 0;
        memcpy(st->scratch, in->text ? in->text : "", in->len);
        st->scratch[in->len] = 0;
        for (size_t j = 0; j < s->n_keywords; j++)
                if (regexec(&s->re[j], st->scratch, 0, NULL, 0) == 0) {
                        st->kw_seen[s->base + j] = st->gen;
                        st->sig_count[sig]++;
                }
        return st->sig_count[sig];
}

static bool keyword_true(const struct sy_v03 *v, struct sy_dec_state *st, const struct sy_dec_input *in, uint32_t sig) {
        const struct sy_kw_signal *s = &v->keywords[sig];
        uint32_t n = s->regex ? regex_count(v, st, in, sig) : count_of(st, sig);

        switch (s->op) {
        case SY_KW_AND:
                return n == s->n_keywords;
        case SY_KW_NOR:
                return n == 0;
        default:
                return n > 0;
        }
}

static bool domain_true(const struct sy_v03 *v, struct sy_dec_state *st, const struct sy_dec_input *in, uint32_t d) {
        const struct sy_domain_signal *s = &v->domains[d];

        if (st->dom_gen[d] == st->gen)
                return st->dom_val[d];
        st->dom_gen[d] = st->gen;
        st->dom_val[d] = 0;
        if (in->category && in->category[0])
                for (size_t i = 0; i < s->n_categories; i++)
                        if (ascii_category_eq(s->categories[i], in->category)) {
                                st->dom_val[d] = 1;
                                break;
                        }
        return st->dom_val[d];
}

static bool pii_true(const struct sy_v03 *v, const struct sy_dec_input *in, uint32_t p) {
        const struct sy_pii_signal *s = &v->piis[p];

        for (unsigned t = 0; t < in->n_pii; t++) {
                bool allowed = false;

                if (!(in->pii_score[t] > 0) || in->pii_score[t] < (float)s->threshold)
                        continue;
                for (size_t a = 0; a < s->n_types_allowed && !allowed; a++)
                        allowed = !strcmp(s->types_allowed[a], in->pii_types[t]);
                if (!allowed)
                        return true;
        }
        return false;
}

static bool eval(const struct sy_v03 *v, struct sy_dec_state *st, const struct sy_dec_input *in, uint32_t node) {
        const struct sy_rule *r = &v->rules[node];

        switch (r->kind) {
        case SY_RULE_AND:
                for (uint32_t k = 0; k < r->n; k++)
                        if (!eval(v, st, in, v->kids[r->arg + k]))
                                return false;
                return true;
        case SY_RULE_OR:
                for (uint32_t k = 0; k < r->n; k++)
                        if (eval(v, st, in, v->kids[r->arg + k]))
                                return true;
                return false;
        case SY_RULE_NOT:
                for (uint32_t k = 0; k < r->n; k++)
                        if (eval(v, st, in, v->kids[r->arg + k]))
                                return false;
                return true;
        case SY_RULE_DOMAIN:
                return domain_true(v, st, in, r->arg);
        case SY_RULE_KEYWORD:
                return keyword_true(v, st, in, r->arg);
        case SY_RULE_JAILBREAK:
                return in->jailbreak >= 0 && in->jailbreak >= (float)v->jailbreaks[r->arg].threshold;
        case SY_RULE_PII:
                return pii_true(v, in, r->arg);
        }
        return false;
}

/* the matched keywords of the true keyword conditions under node */
static void collect(const struct sy_v03 *v, struct sy_dec_state *st, const struct sy_dec_input *in, uint32_t node,
                    bool negated, char *out, size_t cap, size_t *len) {
        const struct sy_rule *r = &v->rules[node];

        if (r->kind <= SY_RULE_NOT) {
                for (uint32_t k = 0; k < r->n; k++)
                        collect(v, st, in, v->kids[r->arg + k], negated ^ (r->kind == SY_RULE_NOT), out, cap, len);
                return;
        }
        if (r->kind != SY_RULE_KEYWORD || negated || !keyword_true(v, st, in, r->arg))
                return;
        {
                const struct sy_kw_signal *s = &v->keywords[r->arg];

                for (size_t j = 0; j < s->n_keywords; j++) {
                        const char *kw = s->keywords[j];
                        size_t kl = strlen(kw);

                        if (st->kw_seen[s->base + j] != st->gen)
                                continue;
                        if (*len + kl + 2 >= cap)
                                return;
                        if (*len)
                                out[(*len)++] = ',';
                        memcpy(out + *len, kw, kl);
                        *len += kl;
                        out[*len] = 0;
                }
        }
}

int sy_decide(const struct sy_v03 *v, struct sy_dec_state *st, const struct sy_dec_input *in, char *matched,
              size_t cap) {
        size_t len = 0;

        if (matched && cap)
                matched[0] = 0;
        if (!v || !st || st->v != v || v->n_decisions == 0)
                return -1;
        if (++st->gen == 0) {
                /* wrapped: every stamp would be ambiguous */
                memset(st->kw_seen, 0, (v->n_keyword_total ? v->n_keyword_total : 1) * sizeof *st->kw_seen);
                memset(st->sig_gen, 0, (v->n_keywords ? v->n_keywords : 1) * sizeof *st->sig_gen);
                memset(st->dom_gen, 0, (v->n_domains ? v->n_domains : 1) * sizeof *st->dom_gen);
                st->gen = 1;
        }
        match_keywords(v, st, in);
        for (size_t i = 0; i < v->n_decisions; i++) {
                int32_t g = v->index->gate[i];

                if (g >= 0 && st->sig_gen[g] != st->gen)
                        continue; /* a keyword signal it needs saw nothing */
                if (!eval(v, st, in, v->decisions[i].rule))
                        continue;
                if (matched && cap)
                        collect(v, st, in, v->decisions[i].rule, false, matched, cap, &len);
                return (int)i;
        }
        return -1;
}
