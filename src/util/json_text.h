#ifndef LG_UTIL_JSON_TEXT_H
#define LG_UTIL_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* v as compact JSON text, the same bytes json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15))
 * gives, in a fraction of its time (util/json_text.c); malloc'd (*len its length), NULL
 * for a real that is not finite or no memory. Events are written with it to MQTT, the
 * webhooks and the database. */
char *lg_json_text(const json_t *v, size_t *len);

#endif
