/*
 * A device's data downlink as it goes on air: its next FCntDown, the ACK bit, MAC commands
 * in FOpts, the oldest queued item (FPending when more wait), encrypted and signed with
 * the session's keys; the same for a multicast group with the group's. Used by the Class A
 * answer (uplink.c) and by Class C and multicast sends (classc.c).
 */
#include <string.h>

#include "ns/ns_int.h"
#include "util/util.h"

bool ns_data_down(struct lg_ns *ns, const struct lg_device_rec *d, bool ack, const uint8_t *fopts,
                  size_t fopts_len, size_t cap, struct ns_dl *dl, struct ns_down_info *info) {
  int f_port = 0;
  uint8_t data[242];
  size_t data_len = 0;
  bool confirmed = false, more = false;
  memset(info, 0, sizeof(*info));
  info->cap = cap;
  unsigned queue_gen = lg_store_queue_generation();
  bool queued = !ns_session_queue_empty(ns, d->dev_addr, d->dev_eui);
  int qrc = queued ? lg_store_queue_pop(ns->store, d->dev_eui, &f_port, data, cap, &data_len,
                                        &confirmed, &more)
                   : LG_ENOTFOUND;
  if (qrc == LG_ETOOLONG) { /* removed: it would never fit this device's downlinks */
    atomic_fetch_add(&ns->m.queue_discarded, 1);
    ns_log(ns, "%016llx: queued downlink of %zu bytes discarded: at most %zu fit this downlink",
           (unsigned long long)d->dev_eui, data_len, cap);
    info->discarded = true, info->f_port_discarded = f_port, info->len_discarded = data_len;
  }
  bool has_data = qrc == 0;
  if (!queued || qrc == LG_ENOTFOUND)
    ns_session_queue_seen_empty(ns, d->dev_addr, d->dev_eui, queue_gen);
  if (!ack && fopts_len == 0 && !has_data) return false;
  uint32_t fcnt = 0;
  if (lg_store_fcnt_down_take(ns->store, d->dev_eui, &fcnt)) return false;
  struct lg_frame dn;
  memset(&dn, 0, sizeof(dn));
  dn.mtype = has_data && confirmed ? LG_MTYPE_CONFIRMED_DOWN : LG_MTYPE_UNCONFIRMED_DOWN;
  dn.u.data.dev_addr = d->dev_addr;
  dn.u.data.fctrl = (uint8_t)((ack ? LG_FCTRL_ACK : 0) | (more ? LG_FCTRL_FPENDING : 0));
  dn.u.data.f_cnt16 = (uint16_t)fcnt;
  dn.u.data.f_opts_len = (uint8_t)fopts_len;
  if (fopts_len) memcpy(dn.u.data.f_opts, fopts, fopts_len);
  if (has_data) { /* FPort 0 (MAC commands): NwkSEncKey; else AppSKey */
    struct lg_key *k = ns_key(ns, f_port == 0 ? lg_device_nwk_enc_key(d) : d->app_s_key);
    if (k == NULL) return false;
    dn.u.data.has_f_port = true;
    dn.u.data.f_port = (uint8_t)f_port;
    dn.u.data.frm_payload_len = data_len;
    lg_payload_crypt(k, d->dev_addr, fcnt, true, data, data_len, dn.u.data.frm_payload);
  }
  struct lg_key *mic = ns_key(ns, lg_device_snwk_key(d)); /* SNwkSIntKey */
  if (mic == NULL) return false;
  info->f_cnt = fcnt;
  info->f_port = has_data ? f_port : -1;
  info->confirmed = has_data && confirmed;
  info->more = more;
  info->len = data_len;
  memcpy(info->data, data, data_len);
  return lg_frame_encode(&dn, dl->phy, sizeof(dl->phy), &dl->len) == 0 &&
         lg_data_mic(mic, dl->phy, dl->len - 4, d->dev_addr, fcnt, true,
                     dl->phy + dl->len - 4) == 0;
}

bool ns_mcast_down(struct lg_ns *ns, const struct lg_mcast_group *g, uint32_t fcnt, int f_port,
                   const uint8_t *data, size_t len, struct ns_dl *dl) {
  struct lg_frame dn;
  memset(&dn, 0, sizeof(dn));
  dn.mtype = LG_MTYPE_UNCONFIRMED_DOWN; /* a group cannot acknowledge */
  dn.u.data.dev_addr = g->mc_addr;
  dn.u.data.f_cnt16 = (uint16_t)fcnt;
  dn.u.data.has_f_port = true;
  dn.u.data.f_port = (uint8_t)f_port;
  dn.u.data.frm_payload_len = len;
  struct lg_key *nwk = ns_key(ns, g->nwk_s_key);
  struct lg_key *app = ns_key(ns, g->app_s_key);
  if (nwk == NULL || app == NULL || len > sizeof(dn.u.data.frm_payload)) return false;
  lg_payload_crypt(app, g->mc_addr, fcnt, true, data, len, dn.u.data.frm_payload);
  return lg_frame_encode(&dn, dl->phy, sizeof(dl->phy), &dl->len) == 0 &&
         lg_data_mic(nwk, dl->phy, dl->len - 4, g->mc_addr, fcnt, true, dl->phy + dl->len - 4) == 0;
}
