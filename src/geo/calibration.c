/*
 * Calibration files written by `lorageo calibrate` and read by `lorageo solve
 * --calibration` and the server's [geo] calibration: per-gateway timing offsets (keyed
 * by the gateway's name in solve records; the server's gateways are named by their EUI
 * in lower-case hex) and the path-loss model. Small and read once, so jansson parses it.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "geo/geo.h"
#include "util/util.h"

static int json_number_in(json_t *o, const char *key, bool required, double lo, double hi,
                          double *out, char *why, size_t why_len) {
  json_t *v = json_object_get(o, key);
  if (v == NULL) {
    if (!required) return 0;
    snprintf(why, why_len, "path_loss: missing \"%s\"", key);
    return LG_EINVAL;
  }
  if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi)) {
    snprintf(why, why_len, "path_loss: \"%s\" must be a number in [%g, %g]", key, lo, hi);
    return LG_EINVAL;
  }
  *out = json_number_value(v);
  return 0;
}

int lg_calibration_load(const char *path, struct lg_calibration *c, char *why, size_t why_len) {
  json_error_t err;
  memset(c, 0, sizeof(*c));
  json_t *root = json_load_file(path, 0, &err);
  if (root == NULL) {
    snprintf(why, why_len, "%s:%d: %s", path, err.line, err.text);
    return LG_EINVAL;
  }
  int rc = LG_EINVAL;
  json_t *offs = json_object_get(root, "gateway_offsets_ns");
  if (!json_is_object(root) || (offs != NULL && !json_is_object(offs))) {
    snprintf(why, why_len, "%s: \"gateway_offsets_ns\" must be an object", path);
    goto out;
  }
  const char *key;
  json_t *v;
  json_object_foreach(offs, key, v) {
    if (!json_is_number(v) || c->n == LG_CAL_MAX_GW || strlen(key) >= LG_CAL_NAME_MAX) {
      snprintf(why, why_len, "%s: bad offset for gateway \"%s\"", path, key);
      goto out;
    }
    snprintf(c->gateway[c->n], LG_CAL_NAME_MAX, "%s", key);
    c->offset_ns[c->n++] = json_number_value(v);
  }
  json_t *pl = json_object_get(root, "path_loss");
  if (pl != NULL) {
    struct lg_pathloss m = lg_pathloss_default();
    if (!json_is_object(pl) ||
        json_number_in(pl, "tx_power_dbm", false, -30, 40, &m.tx_power_dbm, why, why_len) ||
        json_number_in(pl, "pl0_db", true, 0, 250, &m.pl0_db, why, why_len) ||
        json_number_in(pl, "d0_m", true, 0.01, 1e6, &m.d0_m, why, why_len) ||
        json_number_in(pl, "exponent", true, 0.5, 10, &m.exponent, why, why_len) ||
        json_number_in(pl, "sigma_db", false, 0, 40, &m.sigma_db, why, why_len)) {
      if (!json_is_object(pl)) snprintf(why, why_len, "%s: \"path_loss\" must be an object", path);
      goto out;
    }
    c->has_path_loss = true;
    c->path_loss = m;
  }
  json_t *map = json_object_get(root, "radio_map");
  if (map != NULL && !json_is_null(map)) {
    if (!json_is_string(map) || json_string_length(map) == 0 || json_string_length(map) > 4000) {
      snprintf(why, why_len, "%s: \"radio_map\" must be a file name", path);
      goto out;
    }
    /* relative to the calibration file's directory, as calibrate writes it */
    char full[4200];
    const char *name = json_string_value(map), *slash = strrchr(path, '/');
    if (name[0] == '/' || slash == NULL)
      snprintf(full, sizeof(full), "%s", name);
    else
      snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - path), path, name);
    char sub[300];
    if (lg_radio_map_load(full, &c->radio_map, sub, sizeof(sub)) != 0) {
      snprintf(why, why_len, "%s: radio_map: %s", path, sub);
      goto out;
    }
  }
  rc = 0;
out:
  json_decref(root);
  return rc;
}

void lg_calibration_close(struct lg_calibration *c) {
  if (c == NULL) return;
  lg_radio_map_free(c->radio_map);
  c->radio_map = NULL;
}

double lg_calibration_offset_ns(const struct lg_calibration *c, const char *gateway) {
  for (size_t k = 0; c && k < c->n; k++)
    if (strcmp(c->gateway[k], gateway) == 0) return c->offset_ns[k];
  return 0.0;
}
