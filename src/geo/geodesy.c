/*
 * WGS-84 geodesy: geodetic <-> ECEF <-> local east-north-up, distances.
 *
 * Geodetic → ECEF is the closed form of the thesis eq. 4.3-4.5. ECEF → geodetic starts
 * from Bowring's closed form (thesis eq. 4.7-4.11) and refines it by fixed-point
 * iteration on the latitude with the height written as p cos(phi) + z sin(phi) -
 * a sqrt(1 - e^2 sin^2 phi), which stays well conditioned at the poles. Geodesic
 * distance comes from PROJ's implementation of Karney (2013).
 */
#include <geodesic.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>

#include "geo/geo.h"

#define DEG (LG_PI / 180.0)

static const double wgs84_e2 = LG_WGS84_F * (2.0 - LG_WGS84_F);
static const double wgs84_b = LG_WGS84_A * (1.0 - LG_WGS84_F);

void lg_geo_to_ecef(const struct lg_geodetic *g, double ecef[3]) {
  double phi = g->lat_deg * DEG, lam = g->lon_deg * DEG;
  double s = sin(phi), c = cos(phi);
  double nu = LG_WGS84_A / sqrt(1.0 - wgs84_e2 * s * s);
  ecef[0] = (nu + g->alt_m) * c * cos(lam);
  ecef[1] = (nu + g->alt_m) * c * sin(lam);
  ecef[2] = (nu * (1.0 - wgs84_e2) + g->alt_m) * s;
}

void lg_geo_from_ecef(const double ecef[3], struct lg_geodetic *g) {
  double x = ecef[0], y = ecef[1], z = ecef[2];
  double p = hypot(x, y);
  double ep2 = wgs84_e2 / (1.0 - wgs84_e2);
  /* Bowring's start (thesis eq. 4.8-4.10). */
  double theta = atan2(z * LG_WGS84_A, p * wgs84_b);
  double st = sin(theta), ct = cos(theta);
  double phi = atan2(z + ep2 * wgs84_b * st * st * st, p - wgs84_e2 * LG_WGS84_A * ct * ct * ct);
  for (int i = 0; i < 6; i++) {
    double s = sin(phi);
    double nu = LG_WGS84_A / sqrt(1.0 - wgs84_e2 * s * s);
    double next = atan2(z + wgs84_e2 * nu * s, p);
    bool done = fabs(next - phi) < 1e-15;
    phi = next;
    if (done) break;
  }
  double s = sin(phi), c = cos(phi);
  g->lat_deg = phi / DEG;
  g->lon_deg = atan2(y, x) / DEG;
  g->alt_m = p * c + z * s - LG_WGS84_A * sqrt(1.0 - wgs84_e2 * s * s);
}

void lg_enu_init(struct lg_enu_frame *f, const struct lg_geodetic *origin) {
  double phi = origin->lat_deg * DEG, lam = origin->lon_deg * DEG;
  double sp = sin(phi), cp = cos(phi), sl = sin(lam), cl = cos(lam);
  f->origin = *origin;
  lg_geo_to_ecef(origin, f->origin_ecef);
  double rot[3][3] = {{-sl, cl, 0.0}, {-sp * cl, -sp * sl, cp}, {cp * cl, cp * sl, sp}};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      f->rot[i][j] = rot[i][j];
}

void lg_enu_from_ecef(const struct lg_enu_frame *f, const double ecef[3], double enu[3]) {
  double d[3] = {ecef[0] - f->origin_ecef[0], ecef[1] - f->origin_ecef[1],
                 ecef[2] - f->origin_ecef[2]};
  for (int i = 0; i < 3; i++)
    enu[i] = f->rot[i][0] * d[0] + f->rot[i][1] * d[1] + f->rot[i][2] * d[2];
}

void lg_enu_to_ecef(const struct lg_enu_frame *f, const double enu[3], double ecef[3]) {
  for (int j = 0; j < 3; j++)
    ecef[j] =
        f->origin_ecef[j] + f->rot[0][j] * enu[0] + f->rot[1][j] * enu[1] + f->rot[2][j] * enu[2];
}

void lg_enu_from_geodetic(const struct lg_enu_frame *f, const struct lg_geodetic *g,
                          double enu[3]) {
  double ecef[3];
  lg_geo_to_ecef(g, ecef);
  lg_enu_from_ecef(f, ecef, enu);
}

void lg_enu_to_geodetic(const struct lg_enu_frame *f, const double enu[3], struct lg_geodetic *g) {
  double ecef[3];
  lg_enu_to_ecef(f, enu, ecef);
  lg_geo_from_ecef(ecef, g);
}

/* The ellipsoid's series coefficients, computed once (geod_init costs as much as a
 * short inverse problem) and read-only after. */
static struct geod_geodesic wgs84_geod;
static pthread_once_t wgs84_geod_once = PTHREAD_ONCE_INIT;

static void wgs84_geod_init(void) {
  geod_init(&wgs84_geod, LG_WGS84_A, LG_WGS84_F);
}

double lg_geo_distance_m(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg) {
  double s12 = 0.0;
  pthread_once(&wgs84_geod_once, wgs84_geod_init);
  geod_inverse(&wgs84_geod, lat1_deg, lon1_deg, lat2_deg, lon2_deg, &s12, NULL, NULL);
  return s12;
}

double lg_geo_earth_radius_m(double lat_deg) {
  double a = LG_WGS84_A, b = wgs84_b, phi = lat_deg * DEG;
  double ca = a * cos(phi), sb = b * sin(phi);
  return sqrt(((a * ca) * (a * ca) + (b * sb) * (b * sb)) / (ca * ca + sb * sb));
}

double lg_geo_haversine_m(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg) {
  double p1 = lat1_deg * DEG, p2 = lat2_deg * DEG;
  double dphi = p2 - p1, dlam = (lon2_deg - lon1_deg) * DEG;
  double r = lg_geo_earth_radius_m(0.5 * (lat1_deg + lat2_deg)); /* thesis eq. 4.16 */
  double k = sin(dphi / 2) * sin(dphi / 2) + cos(p1) * cos(p2) * sin(dlam / 2) * sin(dlam / 2);
  return r * 2.0 * atan2(sqrt(k), sqrt(1.0 - k));
}
