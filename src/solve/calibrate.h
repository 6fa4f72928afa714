/*
 * Learning a deployment's corrections from `solve` records with `truth` (solve/calibrate.c):
 * gateway timing offsets, the path-loss model, and the radio map's points. `lorageo
 * calibrate` feeds it records and writes what it returns.
 */
#ifndef LG_SOLVE_CALIBRATE_H
#define LG_SOLVE_CALIBRATE_H

#include <jansson.h>
#include <stdbool.h>

#include "geo/geo.h"
#include "solve/records.h"

struct lg_calibrator;

/* alt_m: the device's height where truth has none; the path-loss fit's transmit power
 * (EIRP) and reference distance. NULL when out of memory. */
struct lg_calibrator *lg_calibrator_new(double alt_m, double tx_power_dbm, double d0_m);
void lg_calibrator_free(struct lg_calibrator *c); /* NULL is fine */
/* One record with truth: its timed receptions (two or more), its RSSIs, and a point for
 * the radio map. 0 or LG_ENOMEM. */
int lg_calibrator_add(struct lg_calibrator *c, const struct lg_record *r);
/* Nothing learned: no record with two timed receptions, an RSSI or a radio-map point. */
bool lg_calibrator_empty(const struct lg_calibrator *c);
/* {"gateway_offsets_ns", "gateway_stats", "path_loss" or "path_loss_error"}. */
json_t *lg_calibrator_result(const struct lg_calibrator *c);
/* Frames with two or more timed receptions (what the offsets were fitted to). */
unsigned lg_calibrator_frames(const struct lg_calibrator *c);
/* The radio map's training points collected so far (owned by c). */
struct lg_fp_builder *lg_calibrator_radio_points(struct lg_calibrator *c);

#endif
