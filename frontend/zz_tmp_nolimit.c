#include "frontend/frontend-internal.h"
int limit_init(struct frontend *fe) { fe->rl = NULL; return 0; }
void limit_fini(struct frontend *fe) { (void)fe; }
void respond_common_headers(struct conn *c, struct buf *out) { (void)c; (void)out; }
void limit_observe_answer(struct conn *c, const char *p, size_t n) { (void)c; (void)p; (void)n; }
void limit_request_done(struct conn *c) { (void)c; }
