/* Small conveniences over common/json.h for the classifier's files
 * (config.json, tokenizer.json, tokenizer_config.json, safetensors
 * headers): member lookup inside a nested object, typed reads. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

/* Finds member key of the object value obj[0..len); the last duplicate
 * wins. Returns 1 (found, *ret_m filled), 0 (absent), -EBADMSG. */
int clf_json_get(const char *obj, size_t len, const char *key, struct json_member *ret_m);

/* Decoded string value as a NUL-terminated malloc'd copy.
 * -EBADMSG if not a string, -ENOMEM. */
int clf_json_strdup(const struct json_member *m, char **ret_s);
/* Decoded key (object members) as a NUL-terminated malloc'd copy. */
int clf_json_keydup(const struct json_member *m, char **ret_s);
/* Decoded key into buf (NUL-terminated); returns its length, -ENOBUFS. */
int clf_json_key(const struct json_member *m, char *buf, size_t cap);

/* Number values. -EBADMSG if not a number (or not an integer / out of
 * range for the integer forms). */
int clf_json_double(const struct json_member *m, double *ret_v);
int clf_json_int64(const struct json_member *m, int64_t *ret_v);
int clf_json_bool(const struct json_member *m, bool *ret_v);
