/*
 * Class A downlinks: RX1 (the uplink's channel, its data rate less the RX1 offset,
 * `tmst` + RX1 delay) through the gateway that heard the device best among those with
 * a live downlink path; RX2 (the region's frequency and data rate, `tmst` + RX2 delay)
 * when the gateway reports that RX1 failed (TX_ACK with an error such as TOO_LATE).
 * PULL_RESP carries a server token (protocol v2) that the TX_ACK echoes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns/ns_int.h"
#include "util/util.h"

static int downlink_power_dbm(const struct lg_region *r) {
  int p = r->default_max_eirp_dbm - 2; /* EU868: 14 dBm; antenna gain left for the EIRP limit */
  return p > 27 ? 27 : p;
}

static bool txpk_for(const struct lg_ns *ns, const struct lg_gw_rxpk *up, int dr, uint32_t freq_hz,
                     int64_t delay_ns, const struct ns_dl *dl, struct lg_gw_txpk *tx) {
  const struct lg_datarate *d = lg_region_dr(ns->region, dr);
  if (d == NULL || d->mod != LG_MOD_LORA || !up->has_tmst) return false;
  memset(tx, 0, sizeof(*tx));
  tx->has_tmst = true;
  tx->tmst = up->tmst + (uint32_t)(delay_ns / 1000);
  tx->freq_hz = freq_hz;
  tx->rfch = 0;
  tx->power_dbm = downlink_power_dbm(ns->region);
  tx->sf = d->sf;
  tx->bw_hz = d->bw_hz;
  snprintf(tx->codr, sizeof(tx->codr), "4/5");
  tx->ipol = true;
  tx->size = dl->len;
  return true;
}

/* Time on air of a downlink (LoRaWAN: no payload CRC, CR 4/5, explicit header). */
static int64_t airtime_ns(const struct lg_gw_txpk *tx) {
  struct lg_lora_tx lt = lg_lora_tx_lorawan(tx->sf, tx->bw_hz);
  struct lg_airtime at;
  lt.crc = false;
  return lg_lora_airtime(&lt, tx->size, &at) == 0 ? at.time_on_air_ns : 0;
}

/* Whether the gateway may transmit tx now under the region's duty cycle. */
static bool duty_cycle_allows(struct lg_ns *ns, struct ns_gateway *g, const struct lg_gw_txpk *tx) {
  if (g->dc == NULL && (g->dc = calloc(1, sizeof(*g->dc))) == NULL) return false;
  int64_t budget = 0;
  return lg_dc_allows(g->dc, ns->region, tx->freq_hz, airtime_ns(tx), ns_now(ns), &budget);
}

static void send_pull_resp(struct lg_ns *ns, struct ns_gateway *g, struct ns_pending *p,
                           struct lg_gw_txpk *tx) {
  uint8_t buf[1000];
  tx->data = p->data;
  int n = lg_gw_build_pull_resp(g->version ? g->version : 2, p->token, tx, buf, sizeof(buf));
  if (n < 0) return;
  ns->io.send(ns->io.ctx, (const struct sockaddr *)&g->pull_addr, g->pull_len, buf, (size_t)n);
  if (g->dc) lg_dc_record(g->dc, ns->region, tx->freq_hz, airtime_ns(tx), ns_now(ns));
  atomic_fetch_add(&ns->m.downlinks[LG_DL_SENT], 1);
}

void ns_send_downlink(struct lg_ns *ns, const struct ns_frame *f, const struct ns_dl *dl) {
  const struct ns_rx *best = NULL;
  struct ns_gateway *bg = NULL;
  for (size_t i = 0; i < f->n; i++) {
    struct ns_gateway *g = ns_gateway(ns, f->rx[i].gateway_eui);
    if (!g || !g->known || !g->has_pull || !f->rx[i].rxpk.has_tmst) continue;
    if (best == NULL || f->rx[i].rxpk.snr_db > best->rxpk.snr_db) {
      best = &f->rx[i];
      bg = g;
    }
  }
  if (best == NULL) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_NO_GATEWAY], 1);
    ns_log(ns, "downlink dropped: no gateway that heard the frame has a downlink path");
    return;
  }
  const struct lg_gw_rxpk *up = &best->rxpk;
  int up_dr = 0, rx1_dr = 0;
  uint32_t rx1_freq = 0;
  struct lg_gw_txpk rx1;
  if (lg_region_dr_for(ns->region, up->sf, up->bw_hz, true, &up_dr) ||
      lg_region_rx1_dr(ns->region, up_dr, 0, &rx1_dr) ||
      lg_region_rx1_freq(ns->region, up->freq_hz, &rx1_freq) ||
      !txpk_for(ns, up, rx1_dr, rx1_freq, dl->rx1_delay_ns, dl, &rx1)) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_ERROR], 1);
    ns_log(ns, "downlink dropped: the uplink's channel or data rate is not in %s",
           ns->region->name);
    return;
  }
  struct ns_pending *p = calloc(1, sizeof(*p));
  if (p == NULL) return;
  p->token = ns->next_token++;
  p->gateway_eui = bg->eui;
  memcpy(p->data, dl->phy, dl->len);
  p->sent_ns = ns_now(ns);
  p->has_rx2 =
      txpk_for(ns, up, ns->region->rx2_dr, ns->region->rx2_freq_hz, dl->rx2_delay_ns, dl, &p->rx2);
  struct ns_pending *old;
  HASH_FIND(hh, ns->pending, &p->token, sizeof(p->token), old);
  if (old) {
    HASH_DEL(ns->pending, old);
    free(old);
  }
  /* Duty cycle (EU868): RX1 in its sub-band if the hour's budget allows, else RX2 (869.525
   * MHz sits in the 10 % band), else the downlink is refused and counted. */
  struct lg_gw_txpk first = rx1;
  if (!duty_cycle_allows(ns, bg, &rx1)) {
    if (!p->has_rx2 || !duty_cycle_allows(ns, bg, &p->rx2)) {
      atomic_fetch_add(&ns->m.downlinks[LG_DL_DUTY_CYCLE], 1);
      ns_log(ns, "downlink refused: gateway %016llx has no duty-cycle budget left in RX1 or RX2",
             (unsigned long long)bg->eui);
      free(p);
      return;
    }
    ns_log(ns, "downlink moved to RX2: RX1's sub-band is out of duty-cycle budget at %016llx",
           (unsigned long long)bg->eui);
    first = p->rx2;
    p->has_rx2 = false;
  }
  HASH_ADD(hh, ns->pending, token, sizeof(p->token), p);
  send_pull_resp(ns, bg, p, &first);
}

void ns_tx_ack(struct lg_ns *ns, uint16_t token, uint64_t gateway_eui, const char *error) {
  struct ns_pending *p;
  HASH_FIND(hh, ns->pending, &token, sizeof(token), p);
  if (p == NULL || p->gateway_eui != gateway_eui) {
    ns_log(ns, "TX_ACK from %016llx with unknown token %04x (%s)", (unsigned long long)gateway_eui,
           token, error);
    return;
  }
  HASH_DEL(ns->pending, p);
  if (strcmp(error, "NONE") == 0) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_OK], 1);
    free(p);
    return;
  }
  atomic_fetch_add(&ns->m.downlinks[strcmp(error, "TOO_LATE") == 0 ? LG_DL_TOO_LATE : LG_DL_ERROR],
                   1);
  struct ns_gateway *g = ns_gateway(ns, gateway_eui);
  if (p->has_rx2 && g && g->has_pull && duty_cycle_allows(ns, g, &p->rx2)) {
    ns_log(ns, "downlink %04x refused by %016llx (%s): retrying in RX2", token,
           (unsigned long long)gateway_eui, error);
    p->has_rx2 = false;
    p->token = ns->next_token++;
    struct lg_gw_txpk rx2 = p->rx2;
    HASH_ADD(hh, ns->pending, token, sizeof(p->token), p);
    send_pull_resp(ns, g, p, &rx2);
    return;
  }
  ns_log(ns, "downlink %04x failed at %016llx: %s", token, (unsigned long long)gateway_eui, error);
  free(p);
}

void ns_pending_expire(struct lg_ns *ns, int64_t now_ns) {
  struct ns_pending *p, *tmp;
  HASH_ITER(hh, ns->pending, p, tmp) {
    if (now_ns - p->sent_ns > 30000000000LL) { /* no TX_ACK (protocol v1 gateways) */
      HASH_DEL(ns->pending, p);
      free(p);
    }
  }
}
