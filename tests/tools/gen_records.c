/*
 * gen_records: seeded `solve` records with known truth, for tests and benchmarks.
 *
 * A fixed deployment of gateways around Lyngby (the thesis' area, 6 km across) and
 * devices placed at random inside it; each frame's receptions carry GPS times with
 * Gaussian noise, optional per-gateway fixed offsets (to exercise `calibrate`),
 * optional non-line-of-sight delays, and RSSI from the log-distance model with
 * shadowing. Devices are static, or with --speed move on a straight line.
 *
 * usage: gen_records [--frames N] [--devices D] [--gateways G] [--sigma-ns S]
 *                    [--nlos-rate P] [--nlos-ns T] [--offsets] [--speed MPS]
 *                    [--period-s S] [--seed X] [--no-time] [--device-prefix P]
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lg_rng.h"

#include "geo/geo.h"

static struct lg_rng rng = {42};
static double uniform(void) {
  return lg_rng_uniform(&rng);
}
static double gauss(void) {
  return lg_rng_gauss(&rng);
}

int main(int argc, char **argv) {
  long frames = 1000, devices = 10, gateways = 6;
  double sigma_ns = 50, nlos_rate = 0, nlos_ns = 400, speed = 0, period_s = 60;
  int offsets = 0, no_time = 0;
  const char *prefix = "dev";
  static const struct option opts[] = {{"frames", required_argument, NULL, 'f'},
                                       {"devices", required_argument, NULL, 'd'},
                                       {"gateways", required_argument, NULL, 'g'},
                                       {"sigma-ns", required_argument, NULL, 's'},
                                       {"nlos-rate", required_argument, NULL, 'r'},
                                       {"nlos-ns", required_argument, NULL, 'n'},
                                       {"offsets", no_argument, NULL, 'o'},
                                       {"speed", required_argument, NULL, 'v'},
                                       {"period-s", required_argument, NULL, 'p'},
                                       {"seed", required_argument, NULL, 'x'},
                                       {"no-time", no_argument, NULL, 't'},
                                       {"device-prefix", required_argument, NULL, 'P'},
                                       {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'f': frames = atol(optarg); break;
    case 'd': devices = atol(optarg); break;
    case 'g': gateways = atol(optarg); break;
    case 's': sigma_ns = atof(optarg); break;
    case 'r': nlos_rate = atof(optarg); break;
    case 'n': nlos_ns = atof(optarg); break;
    case 'o': offsets = 1; break;
    case 'v': speed = atof(optarg); break;
    case 'p': period_s = atof(optarg); break;
    case 'x': rng.s = strtoull(optarg, NULL, 0) | 1; break;
    case 't': no_time = 1; break;
    case 'P': prefix = optarg; break;
    default: fprintf(stderr, "gen_records: bad option\n"); return 2;
    }
  }
  if (gateways < 3 || gateways > 16 || devices < 1 || frames < 1) {
    fprintf(stderr, "gen_records: need 3..16 gateways, >= 1 device and frame\n");
    return 2;
  }
  struct lg_geodetic origin = {55.7819, 12.4608, 0};
  struct lg_enu_frame f;
  lg_enu_init(&f, &origin);
  struct lg_geodetic gw[16];
  double gw_ecef[16][3], offset_ns[16];
  for (long i = 0; i < gateways; i++) {
    double th = 2 * LG_PI * (double)i / (double)gateways + 0.4 * uniform();
    double r = 2500 + 1000 * uniform();
    double enu[3] = {r * cos(th), r * sin(th), 15 + 40 * uniform()};
    lg_enu_to_geodetic(&f, enu, &gw[i]);
    lg_geo_to_ecef(&gw[i], gw_ecef[i]);
    offset_ns[i] = offsets ? 300.0 * (uniform() - 0.5) : 0.0; /* cable, LNA, GPS antenna delays */
  }
  if (offsets) { /* the truth `calibrate` should find, relative to the mean */
    double mean = 0;
    for (long i = 0; i < gateways; i++)
      mean += offset_ns[i] / (double)gateways;
    fprintf(stderr, "{\"gateway_offsets_ns\":{");
    for (long i = 0; i < gateways; i++)
      fprintf(stderr, "%s\"gw%ld\":%.3f", i ? "," : "", i, offset_ns[i] - mean);
    fprintf(stderr, "}}\n");
  }
  double dev_start[64][2], dev_dir[64];
  if (devices > 64) devices = 64;
  for (long d = 0; d < devices; d++) {
    double r = 2000 * sqrt(uniform()), th = 2 * LG_PI * uniform();
    dev_start[d][0] = r * cos(th);
    dev_start[d][1] = r * sin(th);
    dev_dir[d] = 2 * LG_PI * uniform();
  }
  struct lg_pathloss pl = lg_pathloss_default();
  const int64_t epoch_ns = 1795000000000000000LL; /* 2026-11 */
  for (long k = 0; k < frames; k++) {
    long d = k % devices;
    double t_s = period_s * (double)(k / devices);
    double enu[3] = {dev_start[d][0] + speed * t_s * cos(dev_dir[d]),
                     dev_start[d][1] + speed * t_s * sin(dev_dir[d]), 0};
    struct lg_geodetic dev;
    lg_enu_to_geodetic(&f, enu, &dev);
    dev.alt_m = 0;
    double dx[3];
    lg_geo_to_ecef(&dev, dx);
    int64_t emit_ns = epoch_ns + (int64_t)(t_s * 1e9) + (int64_t)(uniform() * 1e6);
    printf("{\"id\":\"%s-f%ld\",\"device\":\"%s%02ld\",\"rx\":[", prefix, k, prefix, d);
    for (long i = 0; i < gateways; i++) {
      double dist = sqrt(pow(gw_ecef[i][0] - dx[0], 2) + pow(gw_ecef[i][1] - dx[1], 2) +
                         pow(gw_ecef[i][2] - dx[2], 2));
      double delay = dist / LG_GEO_C_MPS * 1e9 + sigma_ns * gauss() + offset_ns[i];
      if (uniform() < nlos_rate) delay += nlos_ns * (0.5 + uniform());
      double rssi = lg_pathloss_rssi(&pl, dist) + pl.sigma_db * gauss();
      printf("%s{\"gateway\":\"gw%ld\",\"lat\":%.9f,\"lon\":%.9f,\"alt\":%.2f,", i ? "," : "", i,
             gw[i].lat_deg, gw[i].lon_deg, gw[i].alt_m);
      if (!no_time) printf("\"time_ns\":%lld,", (long long)(emit_ns + llround(delay)));
      printf("\"rssi\":%.1f,\"snr\":%.1f}", rssi, rssi + 117.0);
    }
    printf("],\"truth\":{\"lat\":%.9f,\"lon\":%.9f}}\n", dev.lat_deg, dev.lon_deg);
  }
  return 0;
}
