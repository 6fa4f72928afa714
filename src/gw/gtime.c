/*
 * Receive times: RFC 3339 parsing with any number of fractional digits, GPS to Unix
 * time, the choice of the best timestamp a reception offers, and the combination of a
 * gateway's antennas (Semtech ranging patent: discard measures more than 6 dB below the
 * strongest, average the rest).
 */
#include <math.h>
#include <string.h>

#include "gw/gw.h"
#include "util/util.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil algorithm, written from its description). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t n, int *out) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int lg_gw_parse_time(const char *s, size_t len, int64_t *ns, int *ndigits) {
  int y, mo, d, h, mi, se;
  /* YYYY-MM-DDTHH:MM:SS is 19 characters */
  if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
    return LG_EINVAL;
  if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
      digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
    return LG_EINVAL;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  /* int64 ns since 1970 reach the year 2262; gateways live well inside this. */
  if (y < 1970 || y > 2200) return LG_EINVAL;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
    return LG_EINVAL;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return LG_EINVAL;
  size_t i = 19;
  int64_t frac = 0;
  int nd = 0;
  if (i < len && s[i] == '.') {
    i++;
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (nd < 9) {
        frac = frac * 10 + (s[i] - '0');
        nd++;
      }
      i++; /* digits past the ninth are below 1 ns: read and dropped */
    }
    if (i == start) return LG_EINVAL;
  }
  for (int k = nd; k < 9; k++)
    frac *= 10;
  int64_t offset_s = 0;
  if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
      return LG_EINVAL;
    offset_s = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return LG_EINVAL;
  }
  if (i != len) return LG_EINVAL;
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
  *ns = secs * 1000000000LL + frac;
  if (ndigits) *ndigits = nd;
  return 0;
}

/* UTC dates from which GPS time ran ahead of UTC by one more second (IERS). */
static const struct {
  int y, m;
} leap_dates[] = {{1981, 7}, {1982, 7}, {1983, 7}, {1985, 7}, {1988, 1}, {1990, 1},
                  {1991, 1}, {1992, 7}, {1993, 7}, {1994, 7}, {1996, 1}, {1997, 7},
                  {1999, 1}, {2006, 1}, {2009, 1}, {2012, 7}, {2015, 7}, {2017, 1}};

#define GPS_EPOCH_UNIX_S 315964800LL /* 1980-01-06T00:00:00Z */

int64_t lg_gw_gps_to_unix_ns(int64_t gps_ns) {
  int64_t gps_s = gps_ns / 1000000000LL;
  int leap = 0;
  for (size_t k = 0; k < LG_ARRAY_LEN(leap_dates); k++) {
    int64_t unix_s = days_from_civil(leap_dates[k].y, leap_dates[k].m, 1) * 86400;
    /* That UTC instant in GPS seconds, with the new offset already in force. */
    if (gps_s >= unix_s - GPS_EPOCH_UNIX_S + (int64_t)(k + 1)) leap = (int)(k + 1);
  }
  return gps_ns + (GPS_EPOCH_UNIX_S - leap) * 1000000000LL;
}

int64_t lg_gw_unix_to_gps_ns(int64_t unix_ns) {
  int64_t unix_s = unix_ns / 1000000000LL;
  int leap = 0;
  for (size_t k = 0; k < LG_ARRAY_LEN(leap_dates); k++)
    if (unix_s >= days_from_civil(leap_dates[k].y, leap_dates[k].m, 1) * 86400) leap = (int)(k + 1);
  return unix_ns - (GPS_EPOCH_UNIX_S - leap) * 1000000000LL;
}

size_t lg_gw_combine_antennas(const struct lg_gw_rxpk *r, int64_t *ftime_ns, double *rssi_dbm) {
  double best = -INFINITY;
  for (size_t i = 0; i < r->n_ant; i++)
    if (r->ant[i].has_ftime && r->ant[i].has_rssi && r->ant[i].rssi_dbm > best)
      best = r->ant[i].rssi_dbm;
  if (!isfinite(best)) return 0;
  /* Average relative to the first kept antenna so a second boundary between antennas
   * (999999990 vs 000000010) does not average to half a second. */
  int64_t base = -1, sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < r->n_ant; i++) {
    const struct lg_gw_antenna *a = &r->ant[i];
    if (!a->has_ftime || !a->has_rssi || a->rssi_dbm < best - 6.0) continue;
    if (base < 0) base = a->ftime_ns;
    int64_t d = a->ftime_ns - base;
    if (d > 500000000) d -= 1000000000;
    if (d < -500000000) d += 1000000000;
    sum += d;
    n++;
  }
  int64_t t = base + sum / (int64_t)n;
  *ftime_ns = ((t % 1000000000) + 1000000000) % 1000000000;
  if (rssi_dbm) *rssi_dbm = best;
  return n;
}

bool lg_gw_best_time(const struct lg_gw_rxpk *r, double fine_sigma_ns, int64_t *unix_ns,
                     double *sigma_ns) {
  int64_t fine = 0;
  bool has_fine = r->has_ftime;
  if (has_fine)
    fine = r->ftime_ns;
  else
    has_fine = lg_gw_combine_antennas(r, &fine, NULL) > 0;
  if (has_fine && (r->has_tmms || r->has_time)) {
    /* Whole GPS second from tmms (or the UTC second of `time`), the rest from the PPS. */
    int64_t second_ns;
    if (r->has_tmms) {
      int64_t gps_s = r->tmms_ms / 1000;
      second_ns = lg_gw_gps_to_unix_ns(gps_s * 1000000000LL);
    } else {
      second_ns = r->time_ns - ((r->time_ns % 1000000000LL) + 1000000000LL) % 1000000000LL;
    }
    *unix_ns = second_ns + fine;
    *sigma_ns = fine_sigma_ns;
    return true;
  }
  if (r->has_time) {
    *unix_ns = r->time_ns;
    /* A stamp with d fractional digits is quantised to 10^-d s: sigma = step / sqrt(12). */
    double step_ns = pow(10.0, 9 - (r->time_digits < 9 ? r->time_digits : 9));
    *sigma_ns = fmax(fine_sigma_ns, step_ns / sqrt(12.0));
    return r->time_digits >= 6;
  }
  return false;
}
