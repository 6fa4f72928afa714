/* Internal to gw/: the JSON readers rxpk.c and station_msg.c share. */
#ifndef LG_GW_INT_H
#define LG_GW_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* o[key] as an integer in [lo, hi] into *out; false (and *out untouched) otherwise. */
bool lg_gw_json_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out);
/* o[key] as a number (integer or real) in [lo, hi]; false otherwise. */
bool lg_gw_json_num(json_t *o, const char *key, double lo, double hi, double *out);

#endif
