/*
 * Live mode: the simulated gateways are Semtech UDP packet forwarders (protocol v2) of a
 * real `lorageo serve`, and the devices speak real LoRaWAN 1.0.x (lorawan/): OTAA joins
 * with fresh DevNonces, FCnt, MICs and encryption, confirmed uplinks, ADR commands.
 *
 * Each gateway has its own UDP socket (a PULL_RESP carries no gateway EUI: the socket
 * is how a forwarder knows a downlink is its own), sends PULL_DATA every 5 s and its
 * `stat` every 30 s, pushes an `rxpk` for every reception the air model lets through,
 * and answers every PULL_RESP with a TX_ACK (`TOO_LATE` when its `tmst` has passed).
 * A downlink reaches its device when it falls in one of the device's receive windows
 * (RX1 / RX2 on the right frequency) and its MIC checks out.
 *
 * Simulated time runs at --speed times wall-clock time; a reception's `time` is the
 * wall-clock moment its frame ends plus its own path delay and timing errors (see
 * live_unix_ns), so the server never sees times ahead of its own clock.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw/gw.h"
#include "lorawan/lorawan.h"
#include "sim/sim_int.h"
#include "util/util.h"

#define SEC 1000000000LL

struct live_dev {
  uint64_t dev_eui, join_eui;
  uint8_t app_key[16], nwk_s_key[16], app_s_key[16];
  struct lg_key k_app, k_nwk, k_apps;
  bool session;
  uint8_t fopts[15]; /* MAC answers for the next uplink */
  uint8_t fopts_len;
  uint32_t f_cnt_down;
  bool has_f_cnt_down;
  int64_t last_end_ns; /* the last uplink: its end, channel and kind, for the windows */
  uint32_t last_freq;
  enum tx_kind last_kind;
  uint32_t mc_f_cnt; /* its multicast group's last frame counter taken */
  bool has_mc_f_cnt;
  /* configuration (issue 19): a frame on the scenario's config_port set it; the device says
   * what it has in its next uplink on that port. RX2 as RXParamSetupReq set it (0: the
   * region's). */
  bool report_pending;
  uint8_t app_params[32];
  size_t app_params_len;
  uint32_t rx2_freq_hz;
};

struct live_counters {
  uint64_t push_sent, push_acks, pull_acks, pull_resps, tx_ack_none, tx_ack_too_late;
  uint64_t downlinks_received, downlinks_missed_window, downlinks_bad_mic, app_downlinks;
  uint64_t class_c_downlinks; /* taken by Class C devices outside their Class A windows */
  uint64_t multicast_received; /* group frames taken, once per member and frame counter */
  uint64_t config_frames;      /* configuration frames taken (the scenario's config_port) */
  uint64_t late_accepted;      /* downlinks late by less than --downlink-grace-ms, sent */
  uint64_t send_errors;
  uint64_t dnmsg, dntxed, dn_too_late, timesyncs; /* --station */
  /* --api: devices that existed on the server with another session or counters, and the
   * uplinks of this run the server stored (read back at the end) */
  uint64_t provision_conflicts, server_uplinks, server_devices;
};

struct live {
  struct sim s;
  const struct lg_sim_live_options *o;
  struct lg_crypto crypto;
  struct live_dev *ld;
  struct lg_key *mc_nwk, *mc_app; /* per scenario group with "multicast" */
  int *fd;
  int64_t epoch_ns; /* Unix time (ns) of simulated time 0 */
  double wall0;
  struct live_counters c;
  uint16_t token;
  struct sim_stations *stations; /* --station: the gateways are Basics Stations */
  int64_t server_t0_ns; /* --api: the server's clock at simulated time 0 (its /api/health) */
};

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t virt_now(const struct live *L) {
  return (int64_t)((wall_s() - L->wall0) * L->o->speed * 1e9);
}

/* ---- datagrams ------------------------------------------------------------------ */

static size_t header(struct live *L, uint8_t type, uint64_t eui, uint8_t *b) {
  L->token++;
  b[0] = 2, b[1] = (uint8_t)(L->token >> 8), b[2] = (uint8_t)L->token, b[3] = type;
  for (int i = 0; i < 8; i++)
    b[4 + i] = (uint8_t)(eui >> (56 - 8 * i));
  return 12;
}

static void send_dgram(struct live *L, size_t gi, const uint8_t *b, size_t n) {
  if (send(L->fd[gi], b, n, 0) != (ssize_t)n) L->c.send_errors++;
}

static void send_pull(struct live *L, size_t gi) {
  uint8_t b[12];
  send_dgram(L, gi, b, header(L, 2, L->s.sc->gateways[gi].eui, b));
}

static void send_stat(struct live *L, size_t gi) {
  const struct lg_sim_gateway *g = &L->s.sc->gateways[gi];
  const struct gw_state *gs = &L->s.gw[gi];
  uint8_t b[512];
  size_t n = header(L, 0, g->eui, b);
  char t[40];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S GMT", &tm);
  n += (size_t)snprintf(
      (char *)b + n, sizeof(b) - n,
      "{\"stat\":{\"time\":\"%s\",\"lati\":%.7f,\"long\":%.7f,\"alti\":%.0f,"
      "\"rxnb\":%llu,\"rxok\":%llu,\"rxfw\":%llu,\"ackr\":100.0,\"dwnb\":%llu,\"txnb\":%llu}}",
      t, g->lat_deg, g->lon_deg, g->alt_m, (unsigned long long)gs->heard,
      (unsigned long long)(gs->heard - gs->lost_collision - gs->lost_no_path),
      (unsigned long long)(gs->heard - gs->lost_collision - gs->lost_no_path),
      (unsigned long long)gs->downlinks, (unsigned long long)gs->downlinks);
  send_dgram(L, gi, b, n);
}

/* ---- the device's frames -------------------------------------------------------- */

/* A reference device's payload: its position as a Cayenne LPP GPS item (channel 1, type
 * 136; latitude and longitude in 0.0001 degree, altitude in 0.01 m, signed 24-bit). */
static void gps_payload(const struct sim *s, const struct device *d, uint8_t out[11]) {
  double enu[3] = {d->e, d->n, 0};
  struct lg_geodetic g;
  lg_enu_to_geodetic(&s->enu, enu, &g);
  int32_t v[3] = {(int32_t)lround(g.lat_deg * 1e4), (int32_t)lround(g.lon_deg * 1e4),
                  (int32_t)lround(g.alt_m * 100)};
  out[0] = 1;
  out[1] = 136;
  for (int k = 0; k < 3; k++) {
    uint32_t u = (uint32_t)v[k];
    out[2 + 3 * k] = (uint8_t)(u >> 16);
    out[3 + 3 * k] = (uint8_t)(u >> 8);
    out[4 + 3 * k] = (uint8_t)u;
  }
}

static void live_sent(struct sim *s, struct tx *t, void *ctx) {
  struct live *L = ctx;
  struct device *d = &s->dev[t->dev];
  struct live_dev *x = &L->ld[t->dev];
  const struct lg_sim_group *g = &s->sc->groups[d->group];
  struct lg_frame f;
  memset(&f, 0, sizeof(f));
  size_t len = 0;
  x->last_kind = t->kind;
  x->last_freq = t->freq_hz;
  if (t->kind == TX_JOIN) {
    f.mtype = LG_MTYPE_JOIN_REQUEST;
    f.mhdr = 0x00;
    f.u.join_req = (struct lg_join_request){x->join_eui, x->dev_eui, ++d->dev_nonce};
    lg_frame_encode(&f, t->phy, sizeof(t->phy), &len);
    lg_join_mic(&x->k_app, t->phy, len - 4, t->phy + len - 4);
  } else if (t->kind == TX_DATA) {
    f.mtype = t->confirmed ? LG_MTYPE_CONFIRMED_UP : LG_MTYPE_UNCONFIRMED_UP;
    f.mhdr = (uint8_t)(f.mtype << 5);
    struct lg_data_frame *df = &f.u.data;
    df->dev_addr = d->dev_addr;
    df->fctrl =
        (uint8_t)((t->adr ? LG_FCTRL_ADR : 0) | (t->adr_ack_req ? LG_FCTRL_ADR_ACK_REQ : 0));
    df->f_cnt16 = (uint16_t)t->f_cnt;
    df->f_opts_len = x->fopts_len;
    memcpy(df->f_opts, x->fopts, x->fopts_len);
    x->fopts_len = 0;
    df->has_f_port = true;
    df->f_port = 1;
    df->frm_payload_len = (size_t)g->payload_bytes;
    if (x->report_pending) { /* what it has now, on the configuration port */
      uint32_t iv = (uint32_t)llround(sim_device_period_s(s, d));
      uint8_t *p = df->frm_payload;
      size_t n = 0;
      p[n++] = 0x01;
      for (int k = 3; k >= 0; k--)
        p[n++] = (uint8_t)(iv >> (8 * k));
      if (x->app_params_len) {
        p[n++] = 0x02;
        p[n++] = (uint8_t)x->app_params_len;
        memcpy(p + n, x->app_params, x->app_params_len);
        n += x->app_params_len;
      }
      df->f_port = (uint8_t)s->sc->faults.config_port;
      df->frm_payload_len = n;
      x->report_pending = false;
    } else if (g->reference)
      gps_payload(s, d, df->frm_payload); /* 11 bytes: where it is */
    else
      for (size_t i = 0; i < df->frm_payload_len; i++)
        df->frm_payload[i] = (uint8_t)(t->f_cnt + i);
    lg_payload_crypt(&x->k_apps, d->dev_addr, t->f_cnt, false, df->frm_payload, df->frm_payload_len,
                     df->frm_payload);
    lg_frame_encode(&f, t->phy, sizeof(t->phy), &len);
    lg_data_mic(&x->k_nwk, t->phy, len - 4, d->dev_addr, t->f_cnt, false, t->phy + len - 4);
  } else {
    len = (size_t)t->size;
    for (size_t i = 0; i < len; i++)
      t->phy[i] = (uint8_t)rng_next(&d->rng);
  }
  t->size = (int)len;
}

/*
 * The Unix time a gateway reports for a reception. Simulated time runs --speed times
 * faster than the wall clock, so `epoch + stamp` would run ahead of the server's clock
 * by (speed - 1) x the elapsed wall time (7 minutes after 140 s at --speed 4). The
 * frame's end is therefore placed on the wall clock (epoch + end / speed, the moment
 * the datagram goes out) and only the reception's offset from it, its path delay and
 * its timing errors (what TDOA uses), is kept in nanoseconds, unscaled.
 */
static int64_t live_unix_ns(const struct live *L, const struct tx *t, const struct reception *r) {
  int64_t frame_wall_ns = (int64_t)((double)t->end_ns / L->o->speed);
  return L->epoch_ns + frame_wall_ns + (r->stamp_ns - t->end_ns);
}

/* A station's xtime for a simulated concentrator time: radio session 1 in the top bits,
 * the 48-bit µs counter below (Basics Station glossary, "xtime"). */
static int64_t station_xtime(const struct live *L, size_t gi, int64_t virt_ns) {
  return (1LL << 48) | (((L->s.gw[gi].tmst_base_ns + virt_ns) / 1000) & 0xffffffffffffLL);
}

/* A reception as the station sends it: the frame's fields (updf, jreq; other frames as
 * propdf), its DR in the region's table, and upinfo's xtime, gpstime (µs) and fts (ns
 * since the PPS, -1 without fine timestamps) from the same receive time the UDP mode puts
 * in `time`/`ftime`. */
static void station_uplink(struct live *L, const struct tx *t, const struct reception *r) {
  const struct lg_sim_gateway *g = &L->s.sc->gateways[r->gw];
  const uint8_t *p = t->phy;
  size_t n = (size_t)t->size;
  int dr = 0;
  if (lg_region_dr_for(L->s.sc->region, t->sf, t->bw_hz, true, &dr)) return;
  int64_t gps_ns = lg_gw_unix_to_gps_ns(live_unix_ns(L, t, r));
  long long fts = g->fine_timestamp ? (long long)(gps_ns % SEC) : -1;
  char up[256], head[1024], hex1[520], hex2[40];
  snprintf(up, sizeof(up),
           "\"DR\":%d,\"Freq\":%u,\"upinfo\":{\"rctx\":0,\"xtime\":%lld,\"gpstime\":%lld,"
           "\"fts\":%lld,\"rssi\":%.1f,\"snr\":%.1f,\"rxtime\":%.6f}}",
           dr, t->freq_hz, (long long)station_xtime(L, r->gw, r->end_ns),
           (long long)(gps_ns / 1000), fts, r->rssi, (double)r->snr,
           (double)live_unix_ns(L, t, r) / 1e9);
  int mtype = p[0] >> 5, len;
  if (mtype == 0 && n == 23) {
    len = snprintf(head, sizeof(head),
                   "{\"msgtype\":\"jreq\",\"MHdr\":%d,\"JoinEui\":\"%016llx\",\"DevEui\":\"%016llx\","
                   "\"DevNonce\":%u,\"MIC\":%d,%s",
                   p[0], (unsigned long long)lg_get_le64(p + 1), (unsigned long long)lg_get_le64(p + 9),
                   lg_get_le16(p + 17), (int32_t)lg_get_le32(p + 19), up);
  } else if ((mtype == 2 || mtype == 4) && n >= 12 && (size_t)(8 + (p[5] & 15) + 4) <= n) {
    size_t fo = (size_t)(p[5] & 15), rest = n - 8 - fo - 4;
    lg_hex_encode(p + 8, fo, hex2, sizeof(hex2));
    lg_hex_encode(p + 8 + fo + (rest ? 1 : 0), rest ? rest - 1 : 0, hex1, sizeof(hex1));
    len = snprintf(head, sizeof(head),
                   "{\"msgtype\":\"updf\",\"MHdr\":%d,\"DevAddr\":%d,\"FCtrl\":%d,\"FCnt\":%u,"
                   "\"FOpts\":\"%s\",\"FPort\":%d,\"FRMPayload\":\"%s\",\"MIC\":%d,%s",
                   p[0], (int32_t)lg_get_le32(p + 1), p[5], lg_get_le16(p + 6), hex2,
                   rest ? p[8 + fo] : -1, hex1, (int32_t)lg_get_le32(p + n - 4), up);
  } else {
    lg_hex_encode(p, n, hex1, sizeof(hex1));
    len = snprintf(head, sizeof(head), "{\"msgtype\":\"propdf\",\"FRMPayload\":\"%s\",%s", hex1,
                   up);
  }
  if (len > 0 && (size_t)len < sizeof(head)) {
    sim_stations_send(L->stations, r->gw, head, (size_t)len);
    L->c.push_sent++;
  }
}

static void live_uplink(struct sim *s, struct tx *t, void *ctx) {
  struct live *L = ctx;
  L->ld[t->dev].last_end_ns = t->end_ns;
  if (L->stations) {
    for (uint32_t ri = t->rx_head; ri != UINT32_MAX; ri = s->rxs[ri].next)
      if (!s->rxs[ri].lost) station_uplink(L, t, &s->rxs[ri]);
    return;
  }
  char data[400];
  EVP_EncodeBlock((unsigned char *)data, t->phy, t->size);
  for (uint32_t ri = t->rx_head; ri != UINT32_MAX; ri = s->rxs[ri].next) {
    const struct reception *r = &s->rxs[ri];
    if (r->lost) continue;
    const struct lg_sim_gateway *g = &s->sc->gateways[r->gw];
    uint8_t b[1024];
    size_t n = header(L, 0, g->eui, b);
    char ts[48], fine[32] = "";
    int64_t unix_ns = live_unix_ns(L, t, r);
    lg_rfc3339(unix_ns, g->fine_timestamp ? 9 : 6, ts, sizeof(ts));
    if (g->fine_timestamp)
      snprintf(fine, sizeof(fine), "\"ftime\":%lld,", (long long)(unix_ns % SEC));
    uint32_t tmst = (uint32_t)((s->gw[r->gw].tmst_base_ns + r->end_ns) / 1000);
    n += (size_t)snprintf(
        (char *)b + n, sizeof(b) - n,
        "{\"rxpk\":[{\"time\":\"%s\",%s\"tmst\":%u,\"chan\":0,\"rfch\":0,"
        "\"freq\":%.6f,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF%dBW%u\",\"codr\":\"4/%d\","
        "\"rssi\":%d,\"lsnr\":%.1f,\"size\":%d,\"data\":\"%s\"}]}",
        ts, fine, tmst, t->freq_hz / 1e6, t->sf, t->bw_hz / 1000, 4 + t->cr, (int)lround(r->rssi),
        (double)r->snr, t->size, data);
    send_dgram(L, r->gw, b, n);
    L->c.push_sent++;
  }
}

/* ---- downlinks ------------------------------------------------------------------ */

static bool in_window(const struct live *L, const struct live_dev *x, int64_t at_ns,
                      uint32_t freq) {
  const struct lg_region *r = L->s.sc->region;
  int64_t d1 = x->last_kind == TX_JOIN ? r->join_accept_delay1_ns : r->receive_delay1_ns;
  int64_t d2 = x->last_kind == TX_JOIN ? r->join_accept_delay2_ns : r->receive_delay2_ns;
  uint32_t f1 = 0;
  lg_region_rx1_freq(r, x->last_freq, &f1);
  int64_t tol = 2000000; /* 2 ms: tmst is in microseconds, plus the path delay */
  return (llabs(at_ns - (x->last_end_ns + d1)) < tol && freq == f1) ||
         (llabs(at_ns - (x->last_end_ns + d2)) < tol &&
          freq == (x->rx2_freq_hz ? x->rx2_freq_hz : r->rx2_freq_hz));
}

static void mac_answers(struct live *L, struct device *d, struct live_dev *x, const uint8_t *buf,
                        size_t len, struct dl_effect *e) {
  struct lg_mac_cmd cmds[16];
  size_t n = 0, bad = 0;
  if (lg_mac_parse(buf, len, false, cmds, 16, &n, &bad) != 0) return;
  for (size_t i = 0; i < n; i++) {
    uint8_t ans[2] = {cmds[i].cid, 0};
    size_t alen = 1;
    switch (cmds[i].cid) {
    case LG_MAC_LINK_ADR:
      e->link_adr = true;
      e->dr = cmds[i].u.link_adr_req.dr;
      e->txp_index = cmds[i].u.link_adr_req.tx_power;
      e->nb_trans = cmds[i].u.link_adr_req.nb_trans;
      if (cmds[i].u.link_adr_req.ch_mask_cntl == 0) e->ch_mask = cmds[i].u.link_adr_req.ch_mask;
      ans[1] = 0x07, alen = 2;
      break;
    case LG_MAC_DEV_STATUS: { /* its battery (254: full, falling with a fault), margin 10 dB */
      if (x->fopts_len + 3 <= 15) {
        uint8_t a[3] = {LG_MAC_DEV_STATUS, (uint8_t)sim_device_battery(&L->s, d, L->s.now_ns), 10};
        memcpy(x->fopts + x->fopts_len, a, 3);
        x->fopts_len += 3;
      }
      continue;
    }
    case LG_MAC_RX_PARAM_SETUP:
      x->rx2_freq_hz = cmds[i].u.rx_param_setup_req.freq_hz; /* its RX2 from now on */
      ans[1] = 0x07, alen = 2;
      break;
    case LG_MAC_RX_TIMING_SETUP:
    case LG_MAC_DUTY_CYCLE: break;
    default: continue;
    }
    if (x->fopts_len + alen <= 15) {
      memcpy(x->fopts + x->fopts_len, ans, alen);
      x->fopts_len = (uint8_t)(x->fopts_len + alen);
    }
  }
}

/* A configuration frame (fleet/shadow.h's format): 0x01 + the period (s, 4 bytes), 0x02 + a
 * length + application parameters. Applied, and reported in the next uplink. */
static void config_frame(struct live *L, struct device *d, struct live_dev *x, const uint8_t *p,
                         size_t n) {
  L->c.config_frames++;
  for (size_t i = 0; i < n;) {
    if (p[i] == 0x01 && i + 5 <= n) {
      uint32_t iv = (uint32_t)p[i + 1] << 24 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 8 | p[i + 4];
      if (iv > 0) d->period_s = iv;
      i += 5;
    } else if (p[i] == 0x02 && i + 2 <= n && i + 2 + p[i + 1] <= n && p[i + 1] <= 32) {
      memcpy(x->app_params, p + i + 2, p[i + 1]);
      x->app_params_len = p[i + 1];
      i += 2 + p[i + 1];
    } else {
      break; /* not understood: the rest ignored, what it has is reported */
    }
  }
  x->report_pending = true;
}

static bool data_downlink(struct live *L, struct device *d, struct live_dev *x, const uint8_t *phy,
                          size_t len, const struct lg_frame *f) {
  const struct lg_data_frame *df = &f->u.data;
  uint32_t fcnt = x->has_f_cnt_down ? lg_fcnt_extend(x->f_cnt_down, df->f_cnt16) : df->f_cnt16;
  uint8_t mic[4];
  lg_data_mic(&x->k_nwk, phy, len - 4, d->dev_addr, fcnt, true, mic);
  if (memcmp(mic, f->mic, 4) != 0) return false;
  x->f_cnt_down = fcnt, x->has_f_cnt_down = true;
  struct dl_effect e = {.ack = (df->fctrl & LG_FCTRL_ACK) != 0};
  if (df->f_opts_len) mac_answers(L, d, x, df->f_opts, df->f_opts_len, &e);
  if (df->has_f_port && df->frm_payload_len) {
    uint8_t plain[LG_PHY_MAX];
    lg_payload_crypt(df->f_port ? &x->k_apps : &x->k_nwk, d->dev_addr, fcnt, true, df->frm_payload,
                     df->frm_payload_len, plain);
    if (df->f_port == 0)
      mac_answers(L, d, x, plain, df->frm_payload_len, &e);
    else if (df->f_port == L->s.sc->faults.config_port)
      config_frame(L, d, x, plain, df->frm_payload_len);
    else
      L->c.app_downlinks++;
  }
  sim_device_downlink(&L->s, d, &e);
  return true;
}

static bool join_accept(struct live *L, struct device *d, struct live_dev *x, const uint8_t *phy,
                        size_t len) {
  uint8_t plain[33], mic[4], calc[4];
  plain[0] = phy[0];
  lg_join_accept_decrypt(&x->k_app, phy + 1, len - 1, plain + 1);
  struct lg_join_accept ja;
  if (lg_join_accept_parse(plain + 1, len - 1, &ja, mic)) return false;
  lg_join_mic(&x->k_app, plain, len - 4, calc);
  if (memcmp(mic, calc, 4) != 0) return false;
  lg_derive_session_keys_10(&x->k_app, ja.join_nonce, ja.net_id, d->dev_nonce, x->nwk_s_key,
                            x->app_s_key);
  lg_key_close(&x->k_nwk);
  lg_key_close(&x->k_apps);
  lg_key_init(&x->k_nwk, &L->crypto, x->nwk_s_key);
  lg_key_init(&x->k_apps, &L->crypto, x->app_s_key);
  x->session = true;
  x->has_f_cnt_down = false;
  x->fopts_len = 0;
  sim_device_downlink(&L->s, d, &(struct dl_effect){.join_accept = true, .dev_addr = ja.dev_addr});
  return true;
}

/* A multicast frame for member x of group g: taken once per frame counter. */
static bool multicast_downlink(struct live *L, size_t gi, struct live_dev *x, const uint8_t *phy,
                               size_t len, const struct lg_frame *f) {
  const struct lg_data_frame *df = &f->u.data;
  uint32_t fcnt = x->has_mc_f_cnt ? lg_fcnt_extend(x->mc_f_cnt, df->f_cnt16) : df->f_cnt16;
  uint8_t mic[4];
  lg_data_mic(&L->mc_nwk[gi], phy, len - 4, df->dev_addr, fcnt, true, mic);
  if (memcmp(mic, f->mic, 4) != 0) return false;
  if (!x->has_mc_f_cnt || fcnt > x->mc_f_cnt) L->c.multicast_received++; /* not a copy */
  x->mc_f_cnt = fcnt, x->has_mc_f_cnt = true;
  return true;
}

/* A downlink transmitted at simulated time at_ns on freq: which devices take it. A device
 * listens in its receive windows; a Class C device also on RX2's frequency whenever it is
 * not transmitting, where its multicast group's frames reach it too. */
static void deliver(struct live *L, const uint8_t *phy, size_t len, int64_t at_ns, uint32_t freq) {
  struct lg_frame f;
  if (lg_frame_decode(phy, len, &f)) return;
  bool data = f.mtype == LG_MTYPE_UNCONFIRMED_DOWN || f.mtype == LG_MTYPE_CONFIRMED_DOWN;
  bool matched_window = false, taken = false;
  for (size_t i = 0; i < L->s.n_dev; i++) {
    struct device *d = &L->s.dev[i];
    struct live_dev *x = &L->ld[i];
    const struct lg_sim_group *g = &L->s.sc->groups[d->group];
    bool window = in_window(L, x, at_ns, freq);
    bool listening = g->class_c && x->session && freq == L->s.sc->region->rx2_freq_hz &&
                     at_ns > x->last_end_ns;
    if (!window && !listening) continue;
    if (f.mtype == LG_MTYPE_JOIN_ACCEPT && x->last_kind == TX_JOIN && window) {
      matched_window = true;
      if (join_accept(L, d, x, phy, len)) return (void)L->c.downlinks_received++;
    }
    if (data && x->session && d->dev_addr == f.u.data.dev_addr) {
      matched_window = true;
      if (data_downlink(L, d, x, phy, len, &f)) {
        if (!window) L->c.class_c_downlinks++;
        return (void)L->c.downlinks_received++;
      }
    }
    if (data && listening && g->multicast && g->mc_addr == f.u.data.dev_addr) {
      matched_window = true;
      taken |= multicast_downlink(L, d->group, x, phy, len, &f); /* every member takes it */
    }
  }
  if (taken)
    L->c.downlinks_received++;
  else if (matched_window)
    L->c.downlinks_bad_mic++;
  else
    L->c.downlinks_missed_window++;
}

static void on_pull_resp(struct live *L, size_t gi, const uint8_t *b, size_t n) {
  L->c.pull_resps++;
  json_error_t err;
  json_t *root = json_loadb((const char *)b + 4, n - 4, 0, &err);
  json_t *txpk = json_object_get(root, "txpk");
  const char *error = "NONE";
  int64_t now = virt_now(L), at = now;
  json_t *tmst = json_object_get(txpk, "tmst"), *data = json_object_get(txpk, "data");
  double freq_mhz = json_number_value(json_object_get(txpk, "freq"));
  if (!json_is_object(txpk) || !json_is_string(data)) {
    error = "TX_FREQ"; /* the closest refusal the protocol offers for a malformed txpk */
  } else if (json_is_integer(tmst)) {
    /* unwrap the 32-bit microsecond counter around now */
    uint32_t cur = (uint32_t)((L->s.gw[gi].tmst_base_ns + now) / 1000);
    int32_t ahead = (int32_t)((uint32_t)json_integer_value(tmst) - cur);
    at = now + (int64_t)ahead * 1000;
    if (ahead < 0 && -(double)ahead / 1000.0 / L->o->speed <= L->o->downlink_grace_ms)
      L->c.late_accepted++; /* late only because simulated time runs fast: in its window */
    else if (ahead < 0)
      error = "TOO_LATE";
    else if (ahead > 10000000)
      error = "TOO_EARLY"; /* more than 10 s ahead */
  }
  uint8_t ack[80];
  size_t an = header(L, 5, L->s.sc->gateways[gi].eui, ack);
  ack[1] = b[1], ack[2] = b[2]; /* the PULL_RESP's token */
  an += (size_t)snprintf((char *)ack + an, sizeof(ack) - an, "{\"txpk_ack\":{\"error\":\"%s\"}}",
                         error);
  send_dgram(L, gi, ack, an);
  if (strcmp(error, "NONE") == 0) {
    L->c.tx_ack_none++;
    L->s.gw[gi].downlinks++;
    uint8_t phy[300];
    const char *s64 = json_string_value(data);
    size_t len = 0;
    if (lg_base64_decode(s64, strlen(s64), phy, sizeof(phy), &len) == 0 && len >= 12)
      deliver(L, phy, len, at, (uint32_t)llround(freq_mhz * 1e6));
  } else if (strcmp(error, "TOO_LATE") == 0) {
    L->c.tx_ack_too_late++;
  }
  json_decref(root);
}

/* A message from the server to station gi: a dnmsg goes on air in RX1 (the uplink's xtime
 * + RxDelay) or, when that has passed, RX2 a second later — as a station schedules it —
 * and is confirmed with dntxed; Class C (no xtime) goes out now on RX2. */
static void on_station_msg(void *ctx, size_t gi, const char *json, size_t len) {
  struct live *L = ctx;
  json_t *o = json_loadb(json, len, 0, NULL);
  const char *type = json_string_value(json_object_get(o, "msgtype"));
  if (type && strcmp(type, "timesync") == 0) L->c.timesyncs++;
  if (!type || strcmp(type, "dnmsg") != 0) {
    json_decref(o);
    return;
  }
  L->c.dnmsg++;
  uint8_t phy[300];
  size_t n = 0;
  const char *pdu = json_string_value(json_object_get(o, "pdu"));
  json_t *xt = json_object_get(o, "xtime");
  int64_t now = virt_now(L), at = now;
  uint32_t freq = (uint32_t)json_integer_value(json_object_get(o, "RX2Freq"));
  bool sent = pdu && lg_hex_decode(pdu, strlen(pdu), phy, sizeof(phy), &n) == 0 && n >= 12;
  if (sent && json_is_integer(xt)) {
    int64_t up_ns = (json_integer_value(xt) & 0xffffffffffffLL) * 1000 - L->s.gw[gi].tmst_base_ns;
    int64_t rx1 = up_ns + json_integer_value(json_object_get(o, "RxDelay")) * SEC;
    if (rx1 >= now) {
      at = rx1;
      freq = (uint32_t)json_integer_value(json_object_get(o, "RX1Freq"));
    } else if (rx1 + SEC >= now) {
      at = rx1 + SEC;
    } else {
      sent = false;
      L->c.dn_too_late++;
    }
  }
  if (sent) {
    L->s.gw[gi].downlinks++;
    deliver(L, phy, n, at, freq);
    char m[256];
    int k = snprintf(m, sizeof(m),
                     "{\"msgtype\":\"dntxed\",\"diid\":%lld,\"DevEui\":\"%s\",\"rctx\":0,"
                     "\"xtime\":%lld,\"txtime\":%.6f,\"gpstime\":0}",
                     (long long)json_integer_value(json_object_get(o, "diid")),
                     json_string_value(json_object_get(o, "DevEui")) ? json_string_value(json_object_get(o, "DevEui")) : "",
                     (long long)station_xtime(L, gi, at), (double)at / 1e9);
    sim_stations_send(L->stations, gi, m, (size_t)k);
    L->c.dntxed++;
  }
  json_decref(o);
}

static void receive(struct live *L, size_t gi) {
  uint8_t b[4096];
  ssize_t n;
  while ((n = recv(L->fd[gi], b, sizeof(b), MSG_DONTWAIT)) > 0) {
    if (n < 4 || b[0] < 1 || b[0] > 2) continue;
    if (b[3] == 1)
      L->c.push_acks++;
    else if (b[3] == 4)
      L->c.pull_acks++;
    else if (b[3] == 3)
      on_pull_resp(L, gi, b, (size_t)n);
  }
}

/* ---- provisioning through the HTTP API ------------------------------------------ */

struct answer {
  char buf[4096];
  size_t len;
};

static size_t keep(char *p, size_t sz, size_t n, void *u) {
  struct answer *a = u;
  size_t k = sz * n;
  if (a && a->len + k < sizeof(a->buf)) {
    memcpy(a->buf + a->len, p, k);
    a->len += k;
    a->buf[a->len] = 0;
  }
  return k;
}

struct grown {
  char *p;
  size_t len;
};

static size_t grow(char *p, size_t sz, size_t n, void *u) {
  struct grown *g = u;
  size_t k = sz * n;
  if (g->len + k > (64u << 20)) return 0; /* 64 MiB: not an answer of lorageo's */
  char *q = realloc(g->p, g->len + k + 1);
  if (q == NULL) return 0;
  memcpy(q + g->len, p, k);
  g->p = q, g->len += k, q[g->len] = 0;
  return k;
}

/* GETs path: the JSON answer of a 200 (new reference) or NULL. */
static json_t *get_json(CURL *h, const struct lg_sim_live_options *o, const char *path) {
  char url[600], auth[300];
  snprintf(url, sizeof(url), "%s%s", o->api_url, path);
  struct curl_slist *hd = NULL;
  if (o->api_token && *o->api_token) {
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->api_token);
    hd = curl_slist_append(hd, auth);
  }
  struct grown g = {0};
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grow);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hd);
  json_t *o2 = rc == CURLE_OK && status == 200 && g.p ? json_loads(g.p, 0, NULL) : NULL;
  free(g.p);
  return o2;
}

/* POSTs body (taken); a 409 (already there) is fine, and said in *exists when given. The
 * answer in *ans when given. */
static int post_x(CURL *h, const struct lg_sim_live_options *o, const char *path, json_t *body,
                  char *why, size_t why_len, struct answer *ans, bool *exists) {
  char url[512], *txt = json_dumps(body, JSON_COMPACT), auth[300];
  json_decref(body);
  snprintf(url, sizeof(url), "%s%s", o->api_url, path);
  struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
  if (o->api_token && *o->api_token) {
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->api_token);
    hd = curl_slist_append(hd, auth);
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, txt);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
  if (ans) ans->len = 0, ans->buf[0] = 0;
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hd);
  free(txt);
  if (rc != CURLE_OK)
    return snprintf(why, why_len, "POST %s: %s", url, curl_easy_strerror(rc)), LG_EIO;
  if (exists) *exists = status == 409;
  if (status != 409 && (status < 200 || status > 299))
    return snprintf(why, why_len, "POST %s: HTTP %ld%s%.200s", url, status,
                    ans && ans->len ? ": " : "", ans ? ans->buf : ""),
           LG_EIO;
  return 0;
}

static int post(CURL *h, const struct lg_sim_live_options *o, const char *path, json_t *body,
                char *why, size_t why_len, struct answer *ans) {
  struct answer own;
  return post_x(h, o, path, body, why, why_len, ans ? ans : &own, NULL);
}

/* A device the server had already (POST answered 409): its session and counters are the
 * server's, not this run's — an ABP device whose counter is past 0 or with another DevAddr,
 * an OTAA device that joined (its DevNonces are used) refuse what the simulator sends.
 * Said on stderr and counted; 1 when it conflicts. */
static int conflict(struct live *L, CURL *h, const char *dev_eui, bool otaa, uint32_t dev_addr) {
  char path[96], addr[9];
  snprintf(path, sizeof(path), "/api/devices/%s", dev_eui);
  snprintf(addr, sizeof(addr), "%08x", dev_addr);
  json_t *d = get_json(h, L->o, path);
  const char *act = json_string_value(json_object_get(d, "activation"));
  const char *have = json_string_value(json_object_get(d, "dev_addr"));
  json_int_t next = json_integer_value(json_object_get(d, "f_cnt_up_next"));
  char what[160] = "";
  if (d == NULL)
    snprintf(what, sizeof(what), "it could not be read back");
  else if (act && strcmp(act, otaa ? "otaa" : "abp") != 0)
    snprintf(what, sizeof(what), "it is %s there", act);
  else if (!otaa && have && strcmp(have, addr) != 0)
    snprintf(what, sizeof(what), "its DevAddr there is %s, not %s", have, addr);
  else if (!otaa && next > 0)
    snprintf(what, sizeof(what), "its uplink counter there is at %lld: this run's are replays",
             (long long)next);
  else if (otaa && have)
    snprintf(what, sizeof(what), "it joined before: its DevNonces are used");
  json_decref(d);
  if (!what[0]) return 0;
  L->c.provision_conflicts++;
  fprintf(stderr,
          "lorageo sim: provisioning conflict: device %s exists on the server with other keys or "
          "counters (%s); DELETE it or run on a fresh database\n",
          dev_eui, what);
  return 1;
}

static void hex(const uint8_t *b, size_t n, char *out) {
  lg_hex_encode(b, n, out, 2 * n + 1);
}

/* A group with "multicast": the multicast group (named as the scenario group) and its
 * members. */
static int provision_group(struct live *L, CURL *h, size_t gi, char *why, size_t why_len) {
  const struct lg_sim_group *g = &L->s.sc->groups[gi];
  char addr[9], k1[33], k2[33], path[128];
  snprintf(addr, sizeof(addr), "%08x", g->mc_addr);
  hex(g->mc_nwk_s_key, 16, k1);
  hex(g->mc_app_s_key, 16, k2);
  struct answer a;
  int rc = post(h, L->o, "/api/multicast-groups",
                json_pack("{s:s,s:s,s:s,s:s}", "name", g->name, "mc_addr", addr, "mc_nwk_s_key", k1,
                          "mc_app_s_key", k2),
                why, why_len, &a);
  json_t *o = rc == 0 ? json_loads(a.buf, 0, NULL) : NULL;
  json_int_t id = json_integer_value(json_object_get(o, "id"));
  json_decref(o);
  if (rc == 0 && id <= 0)
    return snprintf(why, why_len, "POST /api/multicast-groups: no group id in the answer"), LG_EIO;
  snprintf(path, sizeof(path), "/api/multicast-groups/%lld/devices", (long long)id);
  for (size_t i = 0; rc == 0 && i < L->s.n_dev; i++) {
    if (L->s.dev[i].group != gi) continue;
    char de[17];
    snprintf(de, sizeof(de), "%016llx", (unsigned long long)L->ld[i].dev_eui);
    rc = post(h, L->o, path, json_pack("{s:s}", "dev_eui", de), why, why_len, NULL);
  }
  return rc;
}

static int provision(struct live *L, char *why, size_t why_len) {
  CURL *h = curl_easy_init();
  if (!h) return snprintf(why, why_len, "libcurl failed to start"), LG_EIO;
  int rc = 0;
  const struct lg_sim_scenario *sc = L->s.sc;
  for (size_t i = 0; rc == 0 && i < sc->n_gateways; i++) {
    const struct lg_sim_gateway *g = &sc->gateways[i];
    char eui[17], name[32];
    snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)g->eui);
    snprintf(name, sizeof(name), "sim-gw-%zu", i);
    rc = post(h, L->o, "/api/gateways",
              L->o->station_token
                  ? json_pack("{s:s,s:s,s:f,s:f,s:f,s:s}", "gateway_eui", eui, "name", name,
                              "latitude", g->lat_deg, "longitude", g->lon_deg, "altitude",
                              g->alt_m, "station_token", L->o->station_token)
                  : json_pack("{s:s,s:s,s:f,s:f,s:f}", "gateway_eui", eui, "name", name,
                              "latitude", g->lat_deg, "longitude", g->lon_deg, "altitude",
                              g->alt_m),
              why, why_len, NULL);
  }
  for (size_t i = 0; rc == 0 && i < L->s.n_dev; i++) {
    const struct device *d = &L->s.dev[i];
    const struct lg_sim_group *g = &sc->groups[d->group];
    const struct live_dev *x = &L->ld[i];
    char de[17], je[17], k1[33], k2[33], addr[9], name[64];
    snprintf(de, sizeof(de), "%016llx", (unsigned long long)x->dev_eui);
    snprintf(je, sizeof(je), "%016llx", (unsigned long long)x->join_eui);
    snprintf(addr, sizeof(addr), "%08x", d->dev_addr);
    snprintf(name, sizeof(name), "%.31s-%zu", g->name, i);
    json_t *b;
    if (g->activation == LG_SIM_OTAA) {
      hex(x->app_key, 16, k1);
      b = json_pack("{s:s,s:s,s:s,s:s,s:s}", "dev_eui", de, "join_eui", je, "app_key", k1, "name",
                    name, "adr", lg_adr_algo_name(g->adr));
    } else {
      hex(x->nwk_s_key, 16, k1);
      hex(x->app_s_key, 16, k2);
      b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "dev_eui", de, "dev_addr", addr, "nwk_s_key", k1,
                    "app_s_key", k2, "name", name, "adr", lg_adr_algo_name(g->adr));
    }
    if (b && g->reference) json_object_set_new(b, "reference", json_true());
    if (b && g->class_c) json_object_set_new(b, "class", json_string("C"));
    if (b && g->profile_id > 0) json_object_set_new(b, "profile_id", json_integer(g->profile_id));
    if (b && g->activation == LG_SIM_ABP && sc->faults.reboots > 0) /* they restart from 0 */
      json_object_set_new(b, "fcnt_resets_allowed", json_true());
    bool exists = false;
    struct answer a;
    rc = post_x(h, L->o, "/api/devices", b, why, why_len, &a, &exists);
    if (rc == 0 && exists) conflict(L, h, de, g->activation == LG_SIM_OTAA, d->dev_addr);
  }
  for (size_t gi = 0; rc == 0 && gi < sc->n_groups; gi++)
    if (sc->groups[gi].multicast) rc = provision_group(L, h, gi, why, why_len);
  curl_easy_cleanup(h);
  return rc;
}

/* --api, at the end: the uplinks of this run the server stored (received since it began). */
static void count_delivered(struct live *L) {
  CURL *h = curl_easy_init();
  for (size_t i = 0; h && i < L->s.n_dev; i++) {
    char path[160], cursor[32] = "";
    uint64_t mine = 0;
    for (int pages = 0; pages < 100; pages++) {
      snprintf(path, sizeof(path), "/api/devices/%016llx/uplinks?limit=500%s%s",
               (unsigned long long)L->ld[i].dev_eui, cursor[0] ? "&after=" : "", cursor);
      json_t *o = get_json(h, L->o, path), *u;
      size_t k;
      bool older = false;
      json_array_foreach(json_object_get(o, "items"), k, u) {
        if (json_integer_value(json_object_get(u, "received_ns")) < L->epoch_ns - SEC)
          older = true;
        else
          mine++;
      }
      const char *next = json_string_value(json_object_get(o, "next"));
      snprintf(cursor, sizeof(cursor), "%s", next && !older ? next : "");
      json_decref(o);
      if (!cursor[0]) break;
    }
    L->c.server_uplinks += mine;
    L->c.server_devices += mine > 0;
  }
  if (h) curl_easy_cleanup(h);
}

/* --api: the server's clock now (its /api/health's time_ns; 0 when it does not say). */
static int64_t server_now_ns(struct live *L) {
  CURL *h = curl_easy_init();
  json_t *o = h ? get_json(h, L->o, "/api/health") : NULL;
  int64_t t = json_integer_value(json_object_get(o, "time_ns"));
  json_decref(o);
  if (h) curl_easy_cleanup(h);
  return t;
}

/* faults.csv: the ground truth of the faults injected (scenario "faults"): kind, the
 * device's DevEUI or the gateway's EUI, start and end in simulated seconds and on the
 * server's clock (--api; else simulated ns), and what it is. A battery's start is when its
 * fall begins; "end" is empty for what lasts to the end of the run. */
static int write_faults(struct live *L, const char *dir, char *why, size_t why_len) {
  char path[1200];
  snprintf(path, sizeof(path), "%s/faults.csv", dir);
  FILE *f = fopen(path, "w");
  if (!f) return snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno)), LG_EIO;
  const struct lg_sim_faults *fa = &L->s.sc->faults;
  int64_t t0 = L->server_t0_ns;
  fputs("kind,subject,start_s,end_s,start_ns,end_ns,detail\n", f);
  for (size_t i = 0; i < L->s.n_dev; i++) {
    const struct device *d = &L->s.dev[i];
    unsigned long long eui = (unsigned long long)L->ld[i].dev_eui;
    if (d->reboot_ns != INT64_MAX)
      fprintf(f, "reboot,%016llx,%.3f,,%lld,,%s\n", eui, (double)d->reboot_ns / 1e9,
              (long long)(t0 + d->reboot_ns),
              L->s.sc->groups[d->group].activation == LG_SIM_OTAA ? "joins again" : "counter reset");
    if (d->battery_from_ns != INT64_MAX)
      fprintf(f, "battery,%016llx,%.3f,,%lld,,254 to 1 over %.0f s\n", eui,
              (double)d->battery_from_ns / 1e9, (long long)(t0 + d->battery_from_ns),
              fa->battery_over_s);
    if (d->silent_from_ns != INT64_MAX)
      fprintf(f, "silent,%016llx,%.3f,%.3f,%lld,%lld,off\n", eui, (double)d->silent_from_ns / 1e9,
              (double)d->silent_to_ns / 1e9, (long long)(t0 + d->silent_from_ns),
              (long long)(t0 + d->silent_to_ns));
  }
  for (size_t k = 0; k < fa->n_drifts; k++) {
    const struct lg_sim_gateway *g = &L->s.sc->gateways[fa->drift[k].gateway];
    fprintf(f, "gateway_clock,%016llx,%.3f,,%lld,,%g ns/s\n", (unsigned long long)g->eui,
            fa->drift[k].start_s, (long long)(t0 + g->drift_start_ns), fa->drift[k].ns_per_s);
  }
  return fclose(f) ? LG_EIO : 0;
}

/* ---- the run -------------------------------------------------------------------- */

/* devices.csv: which simulated device (the `device` column of the other files) is which
 * LoRaWAN device on the server. */
static int write_devices(struct live *L, const char *dir, char *why, size_t why_len) {
  char path[1200];
  snprintf(path, sizeof(path), "%s/devices.csv", dir);
  FILE *f = fopen(path, "w");
  if (!f) return snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno)), LG_EIO;
  static const char *const acts[] = {"abp", "otaa", "none"};
  fputs("device,dev_eui,group,activation\n", f);
  for (size_t i = 0; i < L->s.n_dev; i++) {
    const struct lg_sim_group *g = &L->s.sc->groups[L->s.dev[i].group];
    fprintf(f, "%zu,%016llx,%s,%s\n", i, (unsigned long long)L->ld[i].dev_eui, g->name,
            acts[g->activation]);
  }
  return fclose(f) ? LG_EIO : 0;
}

static int open_sockets(struct live *L, char *why, size_t why_len) {
  char host[256];
  const char *colon = strrchr(L->o->server, ':');
  if (!colon || colon == L->o->server || (size_t)(colon - L->o->server) >= sizeof(host))
    return snprintf(why, why_len, "--server: expected HOST:PORT, got '%s'", L->o->server),
           LG_EINVAL;
  memcpy(host, L->o->server, (size_t)(colon - L->o->server));
  host[colon - L->o->server] = 0;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *ai;
  int e = getaddrinfo(host, colon + 1, &hints, &ai);
  if (e) return snprintf(why, why_len, "--server %s: %s", L->o->server, gai_strerror(e)), LG_EINVAL;
  int rc = 0;
  for (size_t i = 0; i < L->s.sc->n_gateways; i++) {
    L->fd[i] = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (L->fd[i] < 0 || connect(L->fd[i], ai->ai_addr, ai->ai_addrlen)) {
      snprintf(why, why_len, "--server %s: %s", L->o->server, strerror(errno));
      rc = LG_EIO;
      break;
    }
  }
  freeaddrinfo(ai);
  return rc;
}

static void key_bytes(struct rng *r, uint8_t *k) {
  for (int i = 0; i < 16; i++)
    k[i] = (uint8_t)(rng_next(r) >> 32);
}

static int setup_devices(struct live *L) {
  L->ld = calloc(L->s.n_dev ? L->s.n_dev : 1, sizeof(*L->ld));
  if (!L->ld) return LG_ENOMEM;
  for (size_t i = 0; i < L->s.n_dev; i++) {
    struct live_dev *x = &L->ld[i];
    struct device *d = &L->s.dev[i];
    struct rng r;
    rng_seed(&r, L->s.sc->seed, 0x100000000ULL + i); /* keys: a stream of their own */
    x->dev_eui = 0x70b3d5e700000000ULL | ((uint64_t)(L->s.sc->seed & 0xff) << 24) | (uint64_t)i;
    x->join_eui = 0x70b3d5e75e0000ffULL;
    key_bytes(&r, x->app_key);
    key_bytes(&r, x->nwk_s_key);
    key_bytes(&r, x->app_s_key);
    d->dev_addr = 0x01000000u | (uint32_t)(i & 0xffffff); /* NwkID 0 (NetID 000000) */
    d->dev_nonce = (uint16_t)(rng_next(&r) & 0x7fff);
    if (lg_key_init(&x->k_app, &L->crypto, x->app_key) ||
        lg_key_init(&x->k_nwk, &L->crypto, x->nwk_s_key) ||
        lg_key_init(&x->k_apps, &L->crypto, x->app_s_key))
      return LG_ECRYPTO;
    x->session = L->s.sc->groups[d->group].activation != LG_SIM_OTAA;
  }
  const struct lg_sim_scenario *sc = L->s.sc;
  L->mc_nwk = calloc(sc->n_groups, sizeof(*L->mc_nwk));
  L->mc_app = calloc(sc->n_groups, sizeof(*L->mc_app));
  if (!L->mc_nwk || !L->mc_app) return LG_ENOMEM;
  for (size_t gi = 0; gi < sc->n_groups; gi++)
    if (sc->groups[gi].multicast &&
        (lg_key_init(&L->mc_nwk[gi], &L->crypto, sc->groups[gi].mc_nwk_s_key) ||
         lg_key_init(&L->mc_app[gi], &L->crypto, sc->groups[gi].mc_app_s_key)))
      return LG_ECRYPTO;
  return 0;
}

static void teardown(struct live *L) {
  for (size_t i = 0; L->ld && i < L->s.n_dev; i++) {
    lg_key_close(&L->ld[i].k_app);
    lg_key_close(&L->ld[i].k_nwk);
    lg_key_close(&L->ld[i].k_apps);
  }
  for (size_t gi = 0; L->mc_nwk && L->mc_app && gi < L->s.sc->n_groups; gi++)
    if (L->s.sc->groups[gi].multicast) {
      lg_key_close(&L->mc_nwk[gi]);
      lg_key_close(&L->mc_app[gi]);
    }
  free(L->mc_nwk);
  free(L->mc_app);
  for (size_t i = 0; L->fd && i < L->s.sc->n_gateways; i++)
    if (L->fd[i] >= 0) close(L->fd[i]);
  free(L->fd);
  free(L->ld);
  sim_stations_close(L->stations);
  lg_crypto_close(&L->crypto);
  sim_free(&L->s);
}

static char *live_summary(struct live *L) {
  char *base = sim_summary(&L->s);
  json_t *o = json_loads(base, 0, NULL);
  free(base);
  const struct live_counters *c = &L->c;
  json_object_set_new(
      o, "live",
      json_pack("{s:s,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "server",
                L->o->server ? L->o->server : L->o->station_uri,
                "speed", L->o->speed, "push_data_sent", (json_int_t)c->push_sent, "push_acks",
                (json_int_t)c->push_acks, "pull_acks", (json_int_t)c->pull_acks, "pull_resps",
                (json_int_t)c->pull_resps, "tx_ack_none", (json_int_t)c->tx_ack_none,
                "tx_ack_too_late", (json_int_t)c->tx_ack_too_late, "downlinks_received",
                (json_int_t)c->downlinks_received, "downlinks_missed_window",
                (json_int_t)c->downlinks_missed_window, "downlinks_bad_mic",
                (json_int_t)c->downlinks_bad_mic, "app_downlinks", (json_int_t)c->app_downlinks,
                "class_c_downlinks", (json_int_t)c->class_c_downlinks, "multicast_received",
                (json_int_t)c->multicast_received,
                "send_errors", (json_int_t)c->send_errors));
  json_object_set_new(json_object_get(o, "live"), "config_frames", json_integer((json_int_t)c->config_frames));
  json_object_set_new(json_object_get(o, "live"), "downlinks_late_accepted",
                      json_integer((json_int_t)c->late_accepted));
  if (L->o->api_url)
    json_object_set_new(json_object_get(o, "live"), "server",
                        json_pack("{s:I,s:I,s:I}", "uplinks_stored", (json_int_t)c->server_uplinks,
                                  "devices_heard", (json_int_t)c->server_devices,
                                  "provisioning_conflicts",
                                  (json_int_t)c->provision_conflicts));
  if (L->stations)
    json_object_set_new(json_object_get(o, "live"), "station",
                        json_pack("{s:s,s:I,s:I,s:I,s:I}", "uri", L->o->station_uri, "dnmsg",
                                  (json_int_t)c->dnmsg, "dntxed", (json_int_t)c->dntxed,
                                  "too_late", (json_int_t)c->dn_too_late, "timesync",
                                  (json_int_t)c->timesyncs));
  char *txt = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  json_decref(o);
  return txt;
}

int lg_sim_run_live(const struct lg_sim_scenario *sc, const struct lg_sim_live_options *o,
                    char **summary_json, char *why, size_t why_len) {
  struct live *L = calloc(1, sizeof(*L));
  *summary_json = NULL;
  if (!L) return LG_ENOMEM;
  L->o = o;
  int rc = lg_crypto_init(&L->crypto);
  if (rc == 0) rc = sim_init(&L->s, sc, (struct sim_network){live_sent, live_uplink, L});
  L->s.live = true;
  L->fd = calloc(sc->n_gateways, sizeof(int));
  if (rc || !L->fd || setup_devices(L)) {
    snprintf(why, why_len, "out of memory or crypto failure setting up the devices");
    teardown(L);
    free(L);
    return LG_ENOMEM;
  }
  for (size_t i = 0; i < sc->n_gateways; i++)
    L->fd[i] = -1;
  if ((!o->station_uri && (rc = open_sockets(L, why, why_len))) ||
      (o->api_url && (rc = provision(L, why, why_len))) ||
      (o->out_dir && (rc = sim_outputs_open(&L->s, o->out_dir, true, why, why_len)))) {
    teardown(L);
    free(L);
    return rc;
  }
  if (o->out_dir && (rc = write_devices(L, o->out_dir, why, why_len))) {
    teardown(L);
    free(L);
    return rc;
  }
  if (o->station_uri) {
    uint64_t *euis = calloc(sc->n_gateways ? sc->n_gateways : 1, sizeof(*euis));
    for (size_t i = 0; euis && i < sc->n_gateways; i++)
      euis[i] = sc->gateways[i].eui;
    rc = euis ? sim_stations_open(&L->stations, o, euis, sc->n_gateways, on_station_msg, L, why,
                                  why_len)
              : LG_ENOMEM;
    free(euis);
    if (rc) {
      teardown(L);
      free(L);
      return rc;
    }
  }
  if (o->api_url) L->server_t0_ns = server_now_ns(L); /* the ground truth on its clock */
  if (o->out_dir && (rc = write_faults(L, o->out_dir, why, why_len))) {
    teardown(L);
    free(L);
    return rc;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  L->epoch_ns = (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
  L->wall0 = wall_s(); /* the same instant: simulated time 0 is the Unix time epoch_ns */
  for (size_t i = 0; i < sc->n_gateways; i++) {
    struct rng r;
    rng_seed(&r, sc->seed, 0x200000000ULL + i);
    L->s.gw[i].tmst_base_ns =
        (int64_t)(rng_next(&r) % 4000000000ULL) * 1000; /* counters start anywhere */
    if (!L->stations) send_pull(L, i), send_stat(L, i);
  }
  double last_pull = L->wall0, last_stat = L->wall0, last_progress = L->wall0;
  struct pollfd *pf = calloc(sc->n_gateways, sizeof(*pf));
  for (size_t i = 0; pf && i < sc->n_gateways; i++)
    pf[i] = (struct pollfd){L->fd[i], POLLIN, 0};
  int64_t end = sc->duration_ns + 8 * SEC; /* + the last uplink's receive windows */
  while (pf) {
    int64_t now = virt_now(L);
    sim_run_until(&L->s, now < end ? now : end);
    if (now >= end) break;
    int64_t next = sim_next_event_ns(&L->s);
    double wait_ms = next == INT64_MAX ? 50 : (double)(next - now) / 1e6 / o->speed;
    int timeout = (int)fmin(fmax(wait_ms, 0), 50);
    if (L->stations) {
      sim_stations_service(L->stations, timeout);
      if (sim_stations_failed(L->stations, why, why_len)) {
        rc = LG_EIO;
        break;
      }
    } else if (poll(pf, sc->n_gateways, timeout) > 0) {
      for (size_t i = 0; i < sc->n_gateways; i++)
        if (pf[i].revents & POLLIN) receive(L, i);
    }
    double w = wall_s();
    if (L->stations) last_pull = last_stat = w; /* stations: no PULL_DATA, no stat */
    if (w - last_pull >= 5) {
      last_pull = w;
      for (size_t i = 0; i < sc->n_gateways; i++)
        send_pull(L, i);
    }
    if (w - last_stat >= 30) {
      last_stat = w;
      for (size_t i = 0; i < sc->n_gateways; i++)
        send_stat(L, i);
    }
    if (o->progress && w - last_progress >= 5) {
      last_progress = w;
      fprintf(
          stderr,
          "sim live: %.0f/%.0f s simulated, %llu transmissions, %llu rxpk sent, %llu downlinks\n",
          (double)now / 1e9, (double)sc->duration_ns / 1e9, (unsigned long long)L->s.tot.tx,
          (unsigned long long)L->c.push_sent, (unsigned long long)L->c.downlinks_received);
    }
  }
  free(pf);
  if (rc) {
    teardown(L);
    free(L);
    return rc;
  }
  sim_finish(&L->s);
  if (!L->stations && L->c.push_acks == 0 && L->c.pull_acks == 0) /* PULL_DATA went out at the start */
    fprintf(stderr,
            "lorageo sim: warning: no PUSH_ACK or PULL_ACK from %s: is `lorageo serve` listening "
            "there?\n",
            o->server);
  if (o->api_url) count_delivered(L);
  *summary_json = live_summary(L);
  rc = sim_outputs_close(&L->s, o->out_dir, false, *summary_json ? *summary_json : "{}", why,
                         why_len);
  /* A run the server kept nothing of failed, whatever it sent (its summary still printed) */
  if (rc == 0 && o->api_url && L->c.push_sent > 0 && L->c.server_uplinks == 0) {
    snprintf(why, why_len,
             "the server stored none of this run's uplinks (%llu rxpk sent, %llu provisioning "
             "conflicts)",
             (unsigned long long)L->c.push_sent, (unsigned long long)L->c.provision_conflicts);
    rc = LG_EIO;
  }
  teardown(L);
  free(L);
  return rc;
}
