/*
 * What every ADR algorithm and the link map share about a link: a TXPower index's EIRP, a
 * data rate's sensitivity at the gateway, and a level's normal law fitted with the misses
 * censored below the sensitivity they fell under (a Tobit EM: a miss is a level below t,
 * or, with a small prior chance, lost to something else). Calls nothing above it.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>

#include "adr/adr_int.h"
#include "lora/lora.h"
#include "util/util.h"

#define OTHER_LOSS 0.02 /* a miss's prior chance of a cause other than a fade */

double adr_tx_power_dbm(const struct lg_adr_input *in, int index) {
  int eirp = 14;
  lg_region_tx_power_dbm(in->region, index, &eirp);
  return eirp;
}

int adr_dr_sensitivity(const struct lg_region *r, int dr, double *sens) {
  const struct lg_datarate *d = lg_region_dr(r, dr);
  double floor_db;
  if (!d || d->mod != LG_MOD_LORA || lg_lora_snr_floor_db(d->sf, d->bw_hz, &floor_db))
    return LG_EINVAL;
  *sens = lg_lora_noise_floor_dbm(d->bw_hz, 6) + floor_db;
  return 0;
}

int lg_adr_sensitivity_dbm(const struct lg_region *r, int dr, double *sens) {
  return adr_dr_sensitivity(r, dr, sens);
}

void adr_censored_moments(double mu, double sigma, double t, double *w, double *e1, double *e2) {
  double a = (t - mu) / sigma, cdf = gsl_cdf_ugaussian_P(a);
  double lam = cdf > 1e-12 ? exp(-a * a / 2) / 2.5066282746310002 / cdf : -a;
  *e1 = mu - sigma * lam;
  *e2 = sigma * sigma * fmax(1 - a * lam - lam * lam, 0.01) + *e1 * *e1;
  *w = cdf / (cdf + OTHER_LOSS);
}

void adr_censored_normal(size_t nx, double sx, double sxx, const double *t, const double *count,
                         size_t nt, double *mu, double *sigma) {
  double m = nx ? sx / (double)nx : (nt ? t[0] - 6 : 0);
  double v = nx > 1 ? (sxx - sx * m) / (double)(nx - 1) : 0;
  double s = nx >= 5 ? fmax(sqrt(fmax(v, 0)), 2.0) : 6.0;
  for (int it = 0; it < 40 && nt > 0; it++) {
    double s1 = sx, s2 = sxx, n = (double)nx;
    for (size_t j = 0; j < nt; j++) {
      double w, e1, e2;
      adr_censored_moments(m, s, t[j], &w, &e1, &e2);
      w *= count ? count[j] : 1;
      s1 += w * e1, s2 += w * e2, n += w;
    }
    if (n <= 0) break;
    double m_next = s1 / n;
    if (nx >= 5) s = fmax(sqrt(fmax(s2 / n - m_next * m_next, 0)), 2.0);
    bool done = fabs(m_next - m) < 0.01;
    m = m_next;
    if (done) break;
  }
  *mu = m, *sigma = s;
}
