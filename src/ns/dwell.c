/*
 * Dwell time (RP002-1.0.4): where a region limits one transmission to 400 ms, the server
 * keeps its own downlinks and the uplink data rates it commands under it, and counts the
 * uplinks that break it.
 *
 * - US915: the FCC's limit (47 CFR 15.247) applies to every uplink; RP002 builds it into
 *   the data rates (DR0 carries 11 bytes). lorageo holds its downlinks to it as well.
 * - AS923, AU915: TxParamSetupReq sets a device's UplinkDwellTime and DownlinkDwellTime;
 *   devices start with both on (RP002: "until TxParamSetupReq is received"). The server's
 *   settings come from [network] uplink_dwell_time / downlink_dwell_time (default on, as
 *   ChirpStack's region files have them); when one is off, each device is told so with a
 *   TxParamSetupReq in its next answers until it acknowledges (at most 3 tries: LoRaWAN
 *   1.0.0/1.0.1 devices do not know the command), and is held to the defaults until then.
 *
 * An uplink longer than the limit is counted (lorageo_dwell_time_exceeded_total), not
 * dropped: it has been sent already, its MIC and counter are the device's, and dropping it
 * would lose data without giving the band back; the count and a log line name a device
 * that is misconfigured. The device state lives in memory: after a restart the requests
 * are sent again (harmless: the same settings).
 */
#include <stdlib.h>

#include "ns/ns_int.h"
#include "util/util.h"

/* TxParamSetupReq's MaxEIRP field: index i means this many dBm (RP002-1.0.4 Table 8). */
static const int max_eirp_table_dbm[16] = {8, 10, 12, 13, 14, 16, 18, 20,
                                          21, 24, 26, 27, 29, 30, 33, 36};

/* Whether the region makes dwell time a per-device setting (TxParamSetupReq). */
static bool settable(const struct lg_ns *ns) {
  return ns->region->dwell_table && ns->cfg.uplink_dwell_time >= 0;
}

static struct ns_txparam *state(struct lg_ns *ns, uint64_t dev_eui, bool create) {
  struct ns_txparam *x;
  HASH_FIND(hh, ns->txparam, &dev_eui, sizeof(dev_eui), x);
  if (x == NULL && create && (x = calloc(1, sizeof(*x))) != NULL) {
    x->dev_eui = dev_eui;
    HASH_ADD(hh, ns->txparam, dev_eui, sizeof(x->dev_eui), x);
  }
  return x;
}

bool ns_dwell_downlink(const struct lg_ns *ns) {
  if (settable(ns)) return ns->cfg.downlink_dwell_time == 1;
  return ns->region->uses_dwell_time;
}

/* Whether the device keeps the region's defaults (it has not acknowledged ours). */
static bool on_defaults(struct lg_ns *ns, uint64_t dev_eui) {
  struct ns_txparam *x = state(ns, dev_eui, false);
  return x == NULL || !x->acked;
}

bool ns_dwell_uplink(struct lg_ns *ns, uint64_t dev_eui) {
  if (!settable(ns)) return ns->region->uses_dwell_time;
  return ns->cfg.uplink_dwell_time == 1 || on_defaults(ns, dev_eui);
}

bool ns_device_downlink_dwell(struct lg_ns *ns, uint64_t dev_eui) {
  if (!settable(ns)) return false;
  return ns->cfg.downlink_dwell_time == 1 || on_defaults(ns, dev_eui);
}

int64_t ns_airtime_ns(int sf, uint32_t bw_hz, size_t size, bool uplink) {
  struct lg_lora_tx lt = lg_lora_tx_lorawan(sf, bw_hz);
  struct lg_airtime at;
  lt.crc = uplink; /* LoRaWAN downlinks carry no payload CRC */
  return lg_lora_airtime(&lt, size, &at) == 0 ? at.time_on_air_ns : 0;
}

bool ns_dwell_uplink_check(struct lg_ns *ns, const struct ns_frame *f) {
  const struct lg_gw_rxpk *r = &f->rx[0].rxpk;
  if (!ns_dwell_uplink(ns, f->dev_eui)) return false;
  int64_t t = ns_airtime_ns(r->sf, r->bw_hz, r->size, true);
  if (t <= LG_DWELL_LIMIT_NS) return false;
  atomic_fetch_add(&ns->m.dwell_uplinks, 1);
  ns_log(ns, "%016llx FCnt %u: %zu bytes at SF%d/%u kHz are %.1f ms on air, over the %s dwell "
             "time of 400 ms",
         (unsigned long long)f->dev_eui, f->f_cnt, r->size, r->sf, r->bw_hz / 1000,
         (double)t / 1e6, ns->region->name);
  return true;
}

int ns_dwell_min_uplink_dr(struct lg_ns *ns, uint64_t dev_eui, size_t phy_len) {
  if (!ns_dwell_uplink(ns, dev_eui)) return 0;
  const struct lg_region *r = ns->region;
  for (int dr = 0; dr <= r->max_lora125_dr; dr++) {
    const struct lg_datarate *d = lg_region_dr(r, dr);
    if (d == NULL || !d->uplink || d->mod != LG_MOD_LORA) continue;
    if (r->dwell_table && d->max_mac_payload_dwell == LG_REGION_NA) continue;
    if (ns_airtime_ns(d->sf, d->bw_hz, phy_len, true) <= LG_DWELL_LIMIT_NS) return dr;
  }
  return r->max_lora125_dr;
}

size_t ns_downlink_max_phy(const struct lg_ns *ns, int dr, bool device_dwell) {
  const struct lg_datarate *d = lg_region_dr(ns->region, dr);
  if (d == NULL || d->mod != LG_MOD_LORA) return 0;
  int m = device_dwell && ns->region->dwell_table ? d->max_mac_payload_dwell : d->max_mac_payload;
  if (m == LG_REGION_NA || m <= 0) return 0;
  size_t phy = (size_t)m + 5; /* MHDR and MIC around the MACPayload */
  if (ns_dwell_downlink(ns))
    while (phy > 13 && ns_airtime_ns(d->sf, d->bw_hz, phy, false) > LG_DWELL_LIMIT_NS)
      phy--;
  return phy;
}

void ns_txparam_request(struct lg_ns *ns, uint64_t dev_eui, uint8_t *answers, size_t *ans_len) {
  if (!settable(ns) || (ns->cfg.uplink_dwell_time == 1 && ns->cfg.downlink_dwell_time == 1))
    return; /* the region's defaults: nothing to tell */
  struct ns_txparam *x = state(ns, dev_eui, true);
  if (x == NULL || x->acked || x->attempts >= 3) return;
  int eirp = 0;
  for (int i = 0; i < 16; i++)
    if (max_eirp_table_dbm[i] <= ns->region->max_eirp_dbm) eirp = i;
  struct lg_mac_cmd req = {.cid = LG_MAC_TX_PARAM_SETUP, .uplink = false};
  req.u.tx_param_setup_req.uplink_dwell = ns->cfg.uplink_dwell_time == 1;
  req.u.tx_param_setup_req.downlink_dwell = ns->cfg.downlink_dwell_time == 1;
  req.u.tx_param_setup_req.max_eirp = (uint8_t)eirp;
  if (lg_mac_encode(&req, answers, LG_FOPTS_MAX, ans_len) == 0) x->attempts++;
}

void ns_txparam_answered(struct lg_ns *ns, uint64_t dev_eui) {
  struct ns_txparam *x = state(ns, dev_eui, settable(ns));
  if (x && x->attempts > 0) x->acked = true; /* an answer to a request we sent */
}

void ns_txparam_reset(struct lg_ns *ns, uint64_t dev_eui) {
  struct ns_txparam *x = state(ns, dev_eui, false);
  if (x) {
    HASH_DEL(ns->txparam, x);
    free(x);
  }
}
