/*
 * `predictive` — lorageo's own mobility-aware ADR. Where E-ADR extrapolates the last
 * three positions and compares one RSSI with fixed mode bounds, this one asks the
 * question ADR is for: of the data rates and powers with which the next uplink will
 * still be sent and heard with the target probability (by default 0.985 served from its
 * track, 0.995 served from its gateways' RSSI: static, or not yet seen to move), which
 * costs the device the least charge per message delivered — and, for a mover, is the
 * target worth what it costs (choose())?
 *   - where the device will be: a constant-velocity Kalman track of its fixes (geo/),
 *     extrapolated by the uplink period, with the spread its own misses show (growing
 *     while the track is stale); the chance is averaged over that spread (Gauss-Hermite),
 *     kept inside the device's area, or over the whole area when the spread exceeds it;
 *   - what each gateway will hear there: the device's own fitted log-distance model and
 *     its residual spread;
 *   - what the duty cycle lets it send at each data rate (a slow one it cannot afford is
 *     no safer); what each setting costs (air time x transmit current); hysteresis against
 *     flapping (choose()); a stricter target for a device that loses more than it allows;
 *   - with keep_locatable, a moving device also keeps P(3+ gateways hear) >= 0.9;
 *   - a device known to be stationary, or a mover without usable positions, is served
 *     from its gateways' RSSI statistics.
 * With nothing to go on it keeps the settings until 20 uplinks, then takes `standard`'s
 * answer (never a bolder one for a device that moves). docs/adr.md has the whole story
 * and bench/RESULTS.md what it gives.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adr/adr_int.h"
#include "geo/geo.h"
#include "util/util.h"

#define HYSTERESIS  1.0  /* keep settings whose miss chance is up to twice the target's */
#define KEEP_COST   1.25 /* ... and cost at most 25 % more per delivered message */
#define ACCEL_SIGMA 0.05 /* m/s^2 of the track; manoeuvres show in its misses (below) */

/*
 * The delivery chance a setting must reach: the configured target (by default
 * LG_ADR_TARGET for a mover, LG_ADR_TARGET_STATIC for a device that is static or not yet
 * seen to move: `still`), made stricter when the device's own history shows more loss than it
 * allows (its frame counter's gaps: a model that is too hopeful for this device, or
 * a bad patch). A missed uplink is worse than its share suggests: the network cannot
 * correct a device it does not hear. With a lost share L above the allowed 1 - t, the
 * allowed miss chance becomes (1 - t)^2 / L.
 */
static double adr_target(const struct lg_adr_input *in, bool still) {
  double target = in->target_delivery > 0 ? in->target_delivery
                  : still                 ? LG_ADR_TARGET_STATIC
                                          : LG_ADR_TARGET;
  uint32_t first = in->n ? in->history[0].f_cnt : 0,
           last = in->n ? in->history[in->n - 1].f_cnt : 0;
  if (in->n < 2 || last < first) return target; /* the counter was reset within the history */
  double span = (double)last - first + 1;
  double lost = span > (double)in->n ? (span - (double)in->n) / span : 0;
  if (lost > 1 - target) target = 1 - (1 - target) * (1 - target) / lost;
  return target;
}

/* Nothing better to go on: standard ADR once it has a full history (a static device one
 * gateway hears is still served), otherwise keep the settings. A device that has been
 * located, or has an area to move in, may move: standard's answer is taken only where it
 * is no bolder than the settings in use (standard trusts the best SNR of 20 uplinks, and
 * a mover that just passed a gateway would go to its lowest power and fall silent). */
static void fallback(const struct lg_adr_input *in, struct lg_adr_decision *out, const char *why) {
  if (in->n >= LG_ADR_HISTORY) {
    adr_standard(in, out);
    bool bolder =
        out->next.dr > in->current.dr || out->next.tx_power_index > in->current.tx_power_index;
    if (!bolder || (in->n_fixes == 0 && !in->has_bounds)) {
      char r[sizeof(out->reason)];
      snprintf(r, sizeof(r), "predictive: %.60s; standard: %.170s", why, out->reason);
      memcpy(out->reason, r, sizeof(r));
      return;
    }
  }
  out->next = in->current;
  out->change = false;
  snprintf(out->reason, sizeof(out->reason), "predictive: %s; keeping the settings (%zu uplinks%s)",
           why, in->n, in->n >= LG_ADR_HISTORY ? ", a mover: standard would be bolder" : "");
}

/* P(at least k of the n gateways hear), each independently with probability p[g]
 * (Poisson binomial, by dynamic programming over the gateways). */
static double p_at_least(const double *p, size_t n, size_t k) {
  double dp[LG_ADR_MAX_GW + 1] = {1};
  for (size_t g = 0; g < n; g++) {
    for (size_t j = g + 1; j >= 1; j--)
      dp[j] = dp[j] * (1 - p[g]) + dp[j - 1] * p[g];
    dp[0] *= 1 - p[g];
  }
  double sum = 0;
  for (size_t j = k; j <= n; j++)
    sum += dp[j];
  return sum;
}

/* Folds fix f into the track unless it cannot be right: outside the device's area, or
 * (once the track has settled) far off its prediction; three-gateway TDOA sometimes picks
 * the wrong branch of the hyperbolas. Keeps the statistics of the track's misses. */
static void track_fix(const struct lg_adr_input *in, struct lg_track *t,
                      const struct lg_adr_fix *fix, size_t *used, double *innov, size_t *k_innov) {
  struct lg_adr_fix c = *fix;
  const struct lg_adr_fix *f = &c;
  double v = f->accuracy_m > 0 ? f->accuracy_m * f->accuracy_m / 2 : 400;
  if (in->has_bounds && (f->e_m < in->bounds[0] - 20 || f->e_m > in->bounds[2] + 20 ||
                         f->n_m < in->bounds[1] - 20 || f->n_m > in->bounds[3] + 20)) {
    /* The device is inside its area: a fix outside says little, but not nothing while
     * the track has nothing better. Before the track has settled it is taken at the
     * nearest point of the area, as uncertain as it was far outside; after, dropped. */
    if (*used >= 2) return;
    double e = fmin(fmax(c.e_m, in->bounds[0]), in->bounds[2]),
           n = fmin(fmax(c.n_m, in->bounds[1]), in->bounds[3]);
    v = fmax(v, (e - c.e_m) * (e - c.e_m) + (n - c.n_m) * (n - c.n_m));
    c.e_m = e, c.n_m = n;
  }
  if (t->started && *used >= 2) {
    double h = (double)(f->t_ns - t->t_ns) / 1e9;
    double de = f->e_m - (t->x[0] + t->x[2] * h), dn = f->n_m - (t->x[1] + t->x[3] * h);
    double miss2 = de * de + dn * dn,
           spread = t->p[0][0] + t->p[1][1] + h * h * (t->p[2][2] + t->p[3][3]);
    if (*used >= 4 && miss2 > fmax(16 * (spread + (*k_innov ? *innov / (double)*k_innov : 0)), 900))
      return;
    *innov += miss2, (*k_innov)++;
  }
  if (lg_track_update(t, f->t_ns, f->e_m, f->n_m, (double[3]){v, 0, v}) == 0) (*used)++;
}

/*
 * The share of a device's messages that a data rate lets it send at all: where the
 * region limits the duty cycle, a frame of the last uplink's size at `dr` every `period`
 * may need more air time than the sub-band allows (1 % in EU868: 36 s an hour); the
 * messages beyond it wait and are overwritten. A slow data rate that cannot be afforded
 * is no safer. 1 where the size, the period or a duty-cycle rule is unknown.
 */
static void sent_share(const struct lg_adr_input *in, int64_t period_ns, double *sent) {
  const struct lg_adr_uplink *last = &in->history[in->n - 1];
  double dc = 1; /* the sub-band of the region's default channels (1 % in EU868) */
  const struct lg_subband *b =
      in->region->default_ch_count > 0
          ? lg_region_subband(in->region, in->region->default_ch[0].freq_hz)
          : NULL;
  if (b) dc = b->duty_cycle;
  for (int dr = 0; dr < LG_REGION_MAX_DR; dr++) {
    sent[dr] = 1;
    const struct lg_datarate *d = lg_region_dr(in->region, dr);
    if (!d || d->mod != LG_MOD_LORA || last->size <= 0 || period_ns <= 0 || dc >= 1) continue;
    struct lg_lora_tx lt = lg_lora_tx_lorawan(d->sf, d->bw_hz);
    struct lg_airtime at;
    if (lg_lora_airtime(&lt, (size_t)last->size, &at)) continue;
    sent[dr] = fmin(1, dc * (double)period_ns / (double)at.time_on_air_ns);
  }
}

/* Gauss-Hermite rule (probabilists', 5 points): E[f(X)], X ~ N(0, 1), as sum w_i f(x_i). */
static const double gh_x[5] = {-2.856970013872806, -1.355626179974266, 0, 1.355626179974266,
                               2.856970013872806};
static const double gh_w[5] = {0.011257411327721, 0.222075922005613, 0.533333333333333,
                               0.222075922005613, 0.011257411327721};

/* The chance of being heard at (pe, pn): with every gateway's receptions in the fit, that
 * any gateway hears; with only the best one's (the server today), the model predicts the
 * best gateway's RSSI, taken at the nearest one (summing the others on a fit to maxima
 * would count their luck twice). *p3: three or more gateways. */
static double heard_at(const struct lg_adr_input *in, const struct lg_adr_pathloss *m, double pe,
                       double pn, double tx, double sens, bool all_rx, double *p3) {
  double p[LG_ADR_MAX_GW], miss = 1;
  size_t np = 0;
  for (size_t g = 0; g < in->n_gateways && np < LG_ADR_MAX_GW; g++) {
    double mu, sg; /* what the network learned there, else the device's own model */
    if (lg_linkmap_law(in->links, in->gateways[g].id, pe, pn, &mu, &sg)) {
      p[np] = gsl_cdf_ugaussian_P((mu + tx - sens) / sg);
    } else {
      double dist = hypot(in->gateways[g].e_m - pe, in->gateways[g].n_m - pn);
      p[np] = gsl_cdf_ugaussian_P((adr_expected_rssi(m, tx, dist) - sens) / m->sigma_db);
    }
    miss *= 1 - p[np++];
  }
  *p3 = p_at_least(p, np, 3);
  if (all_rx) return 1 - miss;
  size_t near = 0;
  double d_near = adr_nearest_gateway_m(in, pe, pn, &near);
  return gsl_cdf_ugaussian_P((adr_expected_rssi(m, tx, d_near) - sens) / m->sigma_db);
}

/* The chance that the next uplink is heard at (dr's sensitivity sens, tx dBm), averaged
 * over where the device may be: N((e, n), pos_sigma^2) on a 5 x 5 Gauss-Hermite grid,
 * each point kept inside the device's area by reflection (as its mobility bounces). A
 * spread wider than the area (a stale track) says the device may be anywhere in it: an
 * 8 x 8 grid over the area, evenly weighted, which five reflected points cannot stand
 * for. *p3 likewise for three or more gateways. */
static double p_heard(const struct lg_adr_input *in, const struct lg_adr_pathloss *m, double e,
                      double n, double pos_sigma, double tx, double sens, bool all_rx, double *p3) {
  double heard = 0, three = 0, q3;
  if (in->has_bounds &&
      pos_sigma > fmax(in->bounds[2] - in->bounds[0], in->bounds[3] - in->bounds[1]) / 2) {
    for (int i = 0; i < 8; i++)
      for (int j = 0; j < 8; j++) {
        double pe = in->bounds[0] + (in->bounds[2] - in->bounds[0]) * (i + 0.5) / 8,
               pn = in->bounds[1] + (in->bounds[3] - in->bounds[1]) * (j + 0.5) / 8;
        heard += heard_at(in, m, pe, pn, tx, sens, all_rx, &q3) / 64;
        three += q3 / 64;
      }
    *p3 = three;
    return heard;
  }
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 5; j++) {
      double w = gh_w[i] * gh_w[j], pe = e + pos_sigma * gh_x[i], pn = n + pos_sigma * gh_x[j];
      adr_reflect(in, &pe, &pn);
      heard += w * heard_at(in, m, pe, pn, tx, sens, all_rx, &q3);
      three += w * q3;
    }
  *p3 = three;
  return heard;
}

/*
 * A device known not to move needs no positions: each gateway's RSSI from it is a sample
 * of one distribution, RSSI - TX power ~ N(mean, spread), fitted to what the gateway
 * heard and to the uplinks it missed (censored below their data rate's sensitivity;
 * spread at least 2 dB, 6 dB below 5 receptions); P(heard) = 1 - prod over the gateways
 * of P(below the data rate's sensitivity). With only the best gateway's reception known,
 * that gateway alone.
 */
/* The chance that a frame at data rate dr (sensitivity sens dBm) and TXPower index txp is
 * sent and heard; *ok: it also meets any side condition (a locatable mover's 3 gateways). */
typedef double chance_fn(const void *ctx, int dr, int txp, double sens, bool *ok);

/* The charge (mA s) a frame of the last uplink's size costs the device at data rate dr and
 * TXPower index txp: its time on air times the transmit current at that power. */
static double frame_charge(const struct lg_adr_input *in, int dr, int txp) {
  const struct lg_datarate *d = lg_region_dr(in->region, dr);
  /* unknown size: the smallest data frame (MHDR, FHDR, FPort, MIC: 13 bytes) */
  int size = in->history[in->n - 1].size > 0 ? in->history[in->n - 1].size : 13;
  struct lg_airtime at;
  if (!d || d->mod != LG_MOD_LORA) return INFINITY;
  struct lg_lora_tx lt = lg_lora_tx_lorawan(d->sf, d->bw_hz);
  if (lg_lora_airtime(&lt, (size_t)size, &at)) return INFINITY;
  return lg_lora_tx_current_ma(adr_tx_power_dbm(in, txp)) * (double)at.time_on_air_ns / 1e9;
}

/*
 * Among the settings whose chance reaches `target`, the one that spends the least per
 * message delivered: its frame's charge divided by its chance (a frame at half the air
 * time that is heard a little less often is still the better buy, down to the target).
 * None reaches it: the cheapest per delivered message near the likeliest.
 *
 * With `worth` > 0 (a mover), the target is bought only while it is worth its price: a
 * delivered message is worth `worth` times the least charge per delivered message any
 * setting offers the device, and the setting with the most value (p x worth - charge) is
 * taken instead whenever it costs less per frame than the target's, or no setting reaches
 * the target. Where the last points of delivery are cheap (a link that is good most of
 * the way) the target stands; where they cost many times a message's price (a link the
 * device keeps losing, an obstructed corner) the device stops short of it instead of
 * paying for it.
 *
 * Hysteresis: every change costs a downlink and a LinkADRAns, so the settings in use are
 * kept while they reach the target within HYSTERESIS times its miss chance and cost at
 * most KEEP_COST more per delivered message, or, where the worth decided, while their
 * value falls short of the best by less than KEEP_COST - 1 of its frame's charge.
 */
enum pick {
  PICK_TARGET,      /* the target reached */
  PICK_SHORT,       /* reachable, but the rest costs more than a message is worth */
  PICK_BELOW_WORTH, /* out of reach: the setting most worth its charge */
  PICK_BELOW,       /* out of reach: the cheapest per delivered message near the likeliest */
};

/* What a decision's reason says after its target. */
static const char *pick_note(enum pick pick) {
  switch (pick) {
  case PICK_SHORT: return " (short of it: the rest costs more than a message is worth)";
  case PICK_BELOW_WORTH: return " (below it: the setting most worth its charge)";
  case PICK_BELOW: return " (below it: the best there is)";
  default: return "";
  }
}

static enum pick choose(const struct lg_adr_input *in, double target, double worth,
                        chance_fn *chance, const void *ctx, struct lg_adr_settings *best,
                        double *p_best) {
  const struct lg_region *r = in->region;
  bool found = false;
  double p_likeliest = -1, best_cost = INFINITY, best_charge = 0;
  struct lg_adr_settings likeliest = {0, 0, 1};
  struct {
    struct lg_adr_settings set;
    double p, charge, cost; /* cost: charge per delivered message, charge / p */
  } tried[LG_REGION_MAX_DR * 16];
  size_t n_tried = 0;
  for (int dr = r->max_lora125_dr; dr >= 0; dr--) {
    double sens;
    if (adr_dr_sensitivity(r, dr, &sens)) continue;
    for (int txp = r->tx_power_max_index; txp >= 0; txp--) {
      bool ok = true;
      double p = chance(ctx, dr, txp, sens, &ok), charge = frame_charge(in, dr, txp);
      if (ok && p > 0 && n_tried < LG_ARRAY_LEN(tried))
        tried[n_tried++] = (__typeof__(tried[0])){{dr, txp, 1}, p, charge, charge / p};
      if (p >= target && ok) {
        if (charge / p < best_cost) {
          found = true, best_cost = charge / p, best_charge = charge;
          *best = (struct lg_adr_settings){dr, txp, 1}, *p_best = p;
        }
      } else if (!found && p > p_likeliest) {
        p_likeliest = p, likeliest = (struct lg_adr_settings){dr, txp, 1};
      }
    }
  }
  if (!found) { /* out of reach: the cheapest per delivered message near the likeliest */
    *best = likeliest, *p_best = p_likeliest;
    double cheapest = INFINITY;
    for (size_t i = 0; i < n_tried; i++)
      if (tried[i].p >= p_likeliest - (1 - target) && tried[i].cost < cheapest)
        cheapest = tried[i].cost, *best = tried[i].set, *p_best = tried[i].p;
  }
  bool valued = false; /* the setting most worth its charge replaced the target's */
  double value = 0, u_best = 0;
  if (worth > 0 && n_tried > 0) {
    double least = INFINITY;
    for (size_t i = 0; i < n_tried; i++)
      least = fmin(least, tried[i].cost);
    value = worth * least;
    size_t w = 0;
    for (size_t i = 1; i < n_tried; i++)
      if (tried[i].p * value - tried[i].charge > tried[w].p * value - tried[w].charge) w = i;
    const struct lg_adr_settings *ws = &tried[w].set;
    bool same = ws->dr == best->dr && ws->tx_power_index == best->tx_power_index;
    if (!same && (!found || tried[w].charge < best_charge)) {
      *best = *ws, *p_best = tried[w].p, best_cost = tried[w].cost, best_charge = tried[w].charge;
      valued = true, u_best = tried[w].p * value - tried[w].charge;
    }
  }
  double sens;
  if ((found || valued) && adr_dr_sensitivity(r, in->current.dr, &sens) == 0) {
    bool ok = true;
    double p = chance(ctx, in->current.dr, in->current.tx_power_index, sens, &ok);
    double charge = frame_charge(in, in->current.dr, in->current.tx_power_index);
    bool keep = ok && p > 0;
    if (valued) /* the value it loses under a quarter of a frame's charge */
      keep = keep && p * value - charge >= u_best - (KEEP_COST - 1) * best_charge;
    else /* the target within its band, at most KEEP_COST more per delivered message */
      keep = keep && p >= target - HYSTERESIS * (1 - target) && charge / p <= KEEP_COST * best_cost;
    if (keep) *best = in->current, best->nb_trans = 1, *p_best = p;
  }
  if (*p_best >= target) return PICK_TARGET;
  if (valued) return found ? PICK_SHORT : PICK_BELOW_WORTH;
  return found ? PICK_TARGET : PICK_BELOW; /* (kept within the band below the target) */
}

/* A stationary device's gateways: each one's RSSI - TX power as a normal law (mean,
 * spread) fitted to what it heard and what it missed (censored_fit). */
struct stationary_ctx {
  const struct lg_adr_input *in;
  const double *mu, *sigma;
  const bool *use;
  size_t used;
};

/* chance_fn: P(heard by at least one of the gateways, independent fades). */
static double stationary_p(const void *ctx, int dr, int txp, double sens, bool *ok) {
  const struct stationary_ctx *c = ctx;
  (void)dr, (void)ok;
  double tx = adr_tx_power_dbm(c->in, txp), miss = 1;
  for (size_t g = 0; g < LG_ADR_MAX_GW; g++)
    if (c->use[g]) miss *= gsl_cdf_ugaussian_P((sens - tx - c->mu[g]) / c->sigma[g]);
  return c->used ? 1 - miss : 0;
}

/* A gateway's law from what it heard (x[]) and missed (below t[]): adr_censored_normal. */
static void censored_fit(const double *x, size_t nx, const double *t, size_t nt, double *mu,
                         double *sigma) {
  double sx = 0, sxx = 0;
  for (size_t i = 0; i < nx; i++)
    sx += x[i], sxx += x[i] * x[i];
  adr_censored_normal(nx, sx, sxx, t, NULL, nt, mu, sigma);
}

/* `label` says why the statistics serve: "stationary", or a mover without usable positions. */
static void stationary(const struct lg_adr_input *in, struct lg_adr_decision *out,
                       const char *label) {
  static _Thread_local double x[LG_ADR_MAX_GW][LG_ADR_HISTORY],
      t[LG_ADR_MAX_GW][2 * LG_ADR_HISTORY];
  double mu[LG_ADR_MAX_GW], sigma[LG_ADR_MAX_GW];
  size_t nx[LG_ADR_MAX_GW] = {0}, nt[LG_ADR_MAX_GW] = {0}, n = in->n;
  bool use[LG_ADR_MAX_GW] = {false}, all_rx = false;
  for (size_t i = 0; i < n; i++)
    all_rx |= in->history[i].n_rx > 0;
  for (size_t i = 0; i < n; i++) {
    const struct lg_adr_uplink *u = &in->history[i];
    double tx = adr_tx_power_dbm(in, u->tx_power_index), sens;
    bool has_sens = adr_dr_sensitivity(in->region, u->dr, &sens) == 0;
    struct lg_adr_rx only = {u->best_gateway >= 0 ? u->best_gateway : 0, u->max_rssi_dbm};
    const struct lg_adr_rx *rx = u->n_rx > 0 ? u->rx : &only;
    bool heard[LG_ADR_MAX_GW] = {false};
    for (int j = 0; j < (u->n_rx > 0 ? u->n_rx : 1); j++) {
      int g = rx[j].gateway;
      if (g < 0 || g >= LG_ADR_MAX_GW || heard[g]) continue;
      x[g][nx[g]++] = rx[j].rssi_dbm - tx;
      heard[g] = true;
    }
    if (!all_rx || !has_sens) continue;
    /* the frames lost before this one (its counter's gap) were sent at its settings, as
     * far as the network knows, and no gateway heard them */
    uint32_t gap =
        i > 0 && u->f_cnt > in->history[i - 1].f_cnt ? u->f_cnt - in->history[i - 1].f_cnt - 1 : 0;
    /* not heard this time: a miss, unless more gateways heard it than receptions are kept */
    bool complete = u->n_rx == 0 || u->gateways <= u->n_rx;
    for (size_t g = 0; g < LG_ADR_MAX_GW; g++)
      for (uint32_t k = 0; k < gap + (!heard[g] && complete) && nt[g] < 2 * LG_ADR_HISTORY; k++)
        t[g][nt[g]++] = sens - tx;
  }
  size_t used = 0;
  for (size_t g = 0; g < LG_ADR_MAX_GW; g++) {
    /* a gateway heard at least twice once there are 3 uplinks (a single reception of a far
     * gateway says little); with only the best gateway known, that one */
    if (nx[g] < (all_rx && n >= 3 ? 2 : 1)) continue;
    censored_fit(x[g], nx[g], t[g], nt[g], &mu[g], &sigma[g]);
    /* the next uplink's spread: the fades' and the mean's own uncertainty (few samples) */
    sigma[g] *= sqrt(1 + 1 / (double)nx[g]);
    use[g] = true, used++;
  }
  if (used == 0) return fallback(in, out, "no gateway hears it steadily");
  struct stationary_ctx c = {in, mu, sigma, use, used};
  struct lg_adr_settings best;
  double p_best = 0;
  /* by default a static device, or one not yet seen to move, aims higher: its link does
   * not change, so a stricter target costs little, and operators of meters do not trade
   * data for air time */
  double target = adr_target(in, out->mobility.cls != LG_ADR_MOB_MOBILE);
  bool found = choose(in, target, 0, stationary_p, &c, &best, &p_best) != PICK_BELOW;
  out->next = best;
  out->change = memcmp(&out->next, &in->current, sizeof(out->next)) != 0;
  snprintf(out->reason, sizeof(out->reason),
           "predictive (%s): %zu gateway(s) over %zu uplinks -> DR%d TXPower %d, P(heard) "
           "%.3f (target %.3f)%s",
           label, used, n, best.dr, best.tx_power_index, p_best, target,
           found ? "" : " (below it)");
}

/*
 * A device whose positions cannot be used now (too few fixes, none near its recent
 * uplinks: a mover heard by fewer than three gateways is not located). Its gateways' RSSI
 * statistics still say what reaches them; for a mover their spread includes its motion,
 * which makes them careful. Standard ADR, which trusts the best SNR of 20 uplinks, would
 * send a device that just passed a gateway to the lowest power. Below 5 uplinks: keep.
 */
static void no_positions(const struct lg_adr_input *in, struct lg_adr_decision *out,
                         const char *why) {
  char label[96];
  snprintf(label, sizeof(label), "%s; its gateways' RSSI", why);
  /* a device not yet known to move (too few uplinks to tell) is served from the first:
   * most devices are static, and the spread assumed before five uplinks is 6 dB */
  if (in->n < 5 && out->mobility.cls != LG_ADR_MOB_UNKNOWN) return fallback(in, out, why);
  stationary(in, out, label);
}

/* A moving device: its model, where it may be next, and what the duty cycle lets it send. */
struct moving_ctx {
  const struct lg_adr_input *in;
  const struct lg_adr_pathloss *m;
  double e, n, pos_sigma; /* where the next uplink will be sent from */
  bool all_rx, moving;
  double sent[LG_REGION_MAX_DR];
};

/* chance_fn: P(sent and heard) over the position's spread; a locatable mover also needs
 * P(3+ gateways) >= LG_ADR_GEO_TARGET. */
static double moving_p(const void *ctx, int dr, int txp, double sens, bool *ok) {
  const struct moving_ctx *c = ctx;
  double p3 = 1, heard = p_heard(c->in, c->m, c->e, c->n, c->pos_sigma,
                                 adr_tx_power_dbm(c->in, txp), sens, c->all_rx, &p3);
  *ok = !c->moving || p3 >= LG_ADR_GEO_TARGET;
  return heard * c->sent[dr >= 0 && dr < LG_REGION_MAX_DR ? dr : 0];
}

void adr_predictive(const struct lg_adr_input *in, struct lg_adr_decision *out) {
  out->mobility = (struct lg_adr_mobility){.cls = in->mobility};
  if (in->mobility == LG_ADR_MOB_UNKNOWN) lg_adr_classify_mobility(in, &out->mobility);
  if (out->mobility.cls == LG_ADR_MOB_STATIC)
    return stationary(in, out, out->mobility.classified ? "classified static" : "stationary");
  struct lg_adr_pathloss m;
  /* In a known area one fix is enough to start: where it may go is bounded. */
  size_t min_fixes = in->has_bounds ? 1 : 2;
  if (in->n_fixes < min_fixes || in->n_gateways == 0)
    return no_positions(in, out, "too few positions");
  struct lg_track t;
  lg_track_init(&t, ACCEL_SIGMA);
  double innov = 0; /* how far each fix fell from the track's prediction: manoeuvres */
  size_t k_innov = 0, used = 0, fi = 0;
  /* Walk the history in time order: the fixes up to each uplink go into the track, and
   * the uplink's receptions are placed where the track then puts the device (smoothed,
   * and available for uplinks only one or two gateways heard). */
  double pos[LG_ADR_HISTORY][2];
  bool has_pos[LG_ADR_HISTORY] = {false};
  for (size_t i = 0; i < in->n && i < LG_ADR_HISTORY; i++) {
    const struct lg_adr_uplink *u = &in->history[i];
    while (fi < in->n_fixes && in->fixes[fi].t_ns <= u->t_ns + 1000000000LL)
      track_fix(in, &t, &in->fixes[fi++], &used, &innov, &k_innov);
    if (used < min_fixes) continue;
    double h = (double)(u->t_ns - t.t_ns) / 1e9;
    if (h > fmax(120, 2.0 * (double)in->period_ns / 1e9)) continue; /* too far from the last fix */
    pos[i][0] = t.x[0] + t.x[2] * h, pos[i][1] = t.x[1] + t.x[3] * h;
    has_pos[i] = true;
  }
  while (fi < in->n_fixes)
    track_fix(in, &t, &in->fixes[fi++], &used, &innov, &k_innov);
  if (used < min_fixes) return no_positions(in, out, "too few plausible positions");
  if (adr_fit(in, (const double(*)[2])pos, has_pos, true, &m))
    return no_positions(in, out, "no uplink to calibrate on");
  bool all_rx = false; /* the history has every gateway's reception, not only the best */
  for (size_t i = 0; i < in->n; i++)
    all_rx |= in->history[i].n_rx > 0;
  int64_t last_t = in->history[in->n - 1].t_ns, period = in->period_ns;
  if (period <= 0 && in->n >= 2) period = (last_t - in->history[0].t_ns) / (int64_t)(in->n - 1);
  double dt = (double)(last_t + (period > 0 ? period : 0) - t.t_ns) / 1e9;
  if (dt < 0) dt = 0;
  double e = t.x[0] + t.x[2] * dt, n = t.x[1] + t.x[3] * dt;
  adr_reflect(in, &e, &n);
  /* How wrong the prediction is: the track's own misses (each fix against the prediction
   * made before it, about a period apart) once there are a few, growing with the periods
   * since the last fix (a mover heard by fewer than three gateways is not located, and
   * its track goes stale); before that, the filter's covariance carried dt ahead. */
  double steps = period > 0 ? fmax(1, dt / ((double)period / 1e9)) : 1;
  double pos_var =
      t.p[0][0] + t.p[1][1] +
      (k_innov >= 3 ? innov / (double)k_innov * steps * steps : dt * dt * (t.p[2][2] + t.p[3][3]));
  double pos_sigma = sqrt(pos_var / 2); /* per axis: pos_var sums east and north */
  size_t near = 0;
  double d_near = adr_nearest_gateway_m(in, e, n, &near);
  if (!in->has_bounds && pos_sigma > fmax(2 * d_near, 200)) /* the grid carries the rest */
    return no_positions(in, out, "the predicted position is too uncertain");
  /* keep_locatable and moving (the track's speed above 0.2 m/s, or its misses above 20 m
   * RMS): the device must stay heard by three gateways */
  bool moving = in->keep_locatable && in->n_gateways >= 3 &&
                (hypot(t.x[2], t.x[3]) > 0.2 || (k_innov >= 3 && innov / (double)k_innov > 400));
  double target = adr_target(in, false);
  struct moving_ctx c = {in, &m, e, n, pos_sigma, all_rx, moving, {0}};
  sent_share(in, period, c.sent);
  struct lg_adr_settings best;
  double p_best = 0;
  double worth = in->worth > 0 ? in->worth : in->worth < 0 ? 0 : LG_ADR_WORTH;
  enum pick pick = choose(in, target, worth, moving_p, &c, &best, &p_best);
  out->next = best;
  out->change = memcmp(&out->next, &in->current, sizeof(out->next)) != 0;
  out->snr_margin_db = 0;
  size_t learned = 0; /* gateways whose link there the network has learned */
  for (size_t g = 0; in->links && g < in->n_gateways && g < LG_ADR_MAX_GW; g++) {
    double mu, sg;
    learned += lg_linkmap_law(in->links, in->gateways[g].id, e, n, &mu, &sg);
  }
  char links[64] = "";
  if (learned)
    snprintf(links, sizeof(links), "; links learned there: %zu of %zu gateways", learned,
             in->n_gateways < LG_ADR_MAX_GW ? in->n_gateways : (size_t)LG_ADR_MAX_GW);
  snprintf(out->reason, sizeof(out->reason),
           "predictive: next at (%.0f, %.0f) m +-%.0f m, %.0f m from a gateway; model n=%.2f sigma "
           "%.1f dB "
           "(%zu pts)%s -> DR%d TXPower %d, P(sent and heard) %.3f (target %.3f)%s%s",
           e, n, pos_sigma, d_near, m.n, m.sigma_db, m.points, moving ? ", moving: 3 gateways" : "",
           best.dr, best.tx_power_index, p_best, target,
           pick_note(pick), links);
}
