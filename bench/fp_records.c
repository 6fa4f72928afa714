/*
 * fp_records: seeded `solve` records of a synthetic city for fingerprinting benchmarks.
 *
 * G gateways (default 70) spread over a 15 km square, frames sent at random points of
 * 200 seeded streets, RSSI from the Oulu log-distance model with a shadowing field fixed
 * in space per gateway (plane waves, about 6 dB) and 2 dB per frame; a gateway hears a
 * frame above -125 dBm, and only the 10 strongest are reported (as in the Antwerp set).
 * Every record carries its truth, so the same program makes training and test sets
 * (different --seed).
 *
 * usage: fp_records [--frames N] [--gateways G] [--seed X]
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "geo/geo.h"
#include "lg_rng.h"

#define MAX_GW  256
#define SIDE_M  15000.0
#define STREETS 200

static double wave[MAX_GW][6][3];

int main(int argc, char **argv) {
  long frames = 10000, gateways = 70;
  uint64_t seed = 1;
  static const struct option opts[] = {{"frames", required_argument, NULL, 'f'},
                                       {"gateways", required_argument, NULL, 'g'},
                                       {"seed", required_argument, NULL, 'x'},
                                       {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'f': frames = atol(optarg); break;
    case 'g': gateways = atol(optarg); break;
    case 'x': seed = strtoull(optarg, NULL, 0); break;
    default: fprintf(stderr, "fp_records: bad option\n"); return 2;
    }
  }
  if (gateways < 3 || gateways > MAX_GW || frames < 1) {
    fprintf(stderr, "fp_records: need 3..%d gateways and >= 1 frame\n", MAX_GW);
    return 2;
  }
  struct lg_rng city = {20261206}; /* the city is the same for every seed */
  struct lg_geodetic origin = {51.2, 4.42, 0};
  struct lg_enu_frame f;
  lg_enu_init(&f, &origin);
  static double gw_en[MAX_GW][2];
  static struct lg_geodetic gw[MAX_GW];
  for (long g = 0; g < gateways; g++) {
    gw_en[g][0] = (lg_rng_uniform(&city) - 0.5) * SIDE_M * 1.1;
    gw_en[g][1] = (lg_rng_uniform(&city) - 0.5) * SIDE_M * 1.1;
    double enu[3] = {gw_en[g][0], gw_en[g][1], 30};
    lg_enu_to_geodetic(&f, enu, &gw[g]);
    for (int k = 0; k < 6; k++) {
      double len_m = 300 + 1200 * lg_rng_uniform(&city), dir = 2 * LG_PI * lg_rng_uniform(&city);
      wave[g][k][0] = 2 * LG_PI / len_m * cos(dir);
      wave[g][k][1] = 2 * LG_PI / len_m * sin(dir);
      wave[g][k][2] = 2 * LG_PI * lg_rng_uniform(&city);
    }
  }
  static double street[STREETS][4];
  for (int s = 0; s < STREETS; s++)
    for (int k = 0; k < 4; k++)
      street[s][k] = (lg_rng_uniform(&city) - 0.5) * SIDE_M;
  struct lg_rng r = {seed * 0x9e3779b97f4a7c15ull | 1};
  for (long k = 0; k < frames; k++) {
    const double *st = street[(int)(lg_rng_uniform(&r) * STREETS)];
    double t = lg_rng_uniform(&r);
    double en[3] = {st[0] + t * (st[2] - st[0]), st[1] + t * (st[3] - st[1]), 0};
    struct lg_geodetic truth;
    lg_enu_to_geodetic(&f, en, &truth);
    long idx[MAX_GW];
    double rssi[MAX_GW];
    int n = 0;
    for (long g = 0; g < gateways; g++) {
      double d_m = fmax(10.0, hypot(en[0] - gw_en[g][0], en[1] - gw_en[g][1])), sh = 0;
      for (int w = 0; w < 6; w++)
        sh += 2.5 * sin(wave[g][w][0] * en[0] + wave[g][w][1] * en[1] + wave[g][w][2]);
      double v = 14 - 128.95 - 23.2 * log10(d_m / 1000.0) + sh + 2.0 * lg_rng_gauss(&r);
      if (v < -125) continue;
      int j = n++; /* insertion by RSSI, strongest first */
      while (j > 0 && rssi[j - 1] < v) {
        rssi[j] = rssi[j - 1];
        idx[j] = idx[j - 1];
        j--;
      }
      rssi[j] = v;
      idx[j] = g;
    }
    if (n > 10) n = 10;
    if (n == 0) continue;
    printf("{\"id\":\"f%ld\",\"rx\":[", k);
    for (int j = 0; j < n; j++)
      printf("%s{\"gateway\":\"g%03ld\",\"lat\":%.7f,\"lon\":%.7f,\"rssi\":%.0f}", j ? "," : "",
             idx[j], gw[idx[j]].lat_deg, gw[idx[j]].lon_deg, rssi[j]);
    printf("],\"truth\":{\"lat\":%.7f,\"lon\":%.7f}}\n", truth.lat_deg, truth.lon_deg);
  }
  return 0;
}
