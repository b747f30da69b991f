#pragma once
/* The classifier process (`switchyard classifier -c CONFIG`): answers the
 * frontend workers' SY_MSG_CLASSIFY_REQ on the shared-memory rings with
 * the category, the jailbreak probability and PII spans, batching requests
 * of similar length. Returns the process exit code. */
int classifier_main(const char *config_path);

/* The model directory used when the configuration names none: the
 * embedded default model ($SWITCHYARD_MODEL_DIR, else the installed
 * <datadir>/switchyard/models/default, else the source tree's
 * models/default). NULL when none of them exists. */
const char *classifier_default_model(void);
