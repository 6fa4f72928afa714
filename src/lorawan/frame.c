/*
 * PHYPayload codec (LoRaWAN 1.0.4 §4, 1.1 §4 and §6.2.4 for rejoin-request).
 *
 * The decoder takes (ptr, len) from an untrusted source: every field is bounds-checked
 * before it is read, and the decoded frame owns copies of its bytes. Nothing is
 * decrypted here; crypto lives in crypto.c so that decoding needs no key.
 */
#include <string.h>

#include "lorawan/lorawan.h"
#include "util/util.h"

static const char *const mtype_names[8] = {
    "join_request",      "join_accept",         "unconfirmed_data_up", "unconfirmed_data_down",
    "confirmed_data_up", "confirmed_data_down", "rejoin_request",      "proprietary",
};

const char *lg_mtype_name(enum lg_mtype m) {
  return (unsigned)m < 8 ? mtype_names[m] : "unknown";
}

bool lg_mtype_is_data(enum lg_mtype m) {
  return m >= LG_MTYPE_UNCONFIRMED_UP && m <= LG_MTYPE_CONFIRMED_DOWN;
}

bool lg_mtype_is_uplink(enum lg_mtype m) {
  return m == LG_MTYPE_JOIN_REQUEST || m == LG_MTYPE_UNCONFIRMED_UP || m == LG_MTYPE_CONFIRMED_UP ||
         m == LG_MTYPE_REJOIN_REQUEST;
}

static int decode_data(const uint8_t *p, size_t len, struct lg_data_frame *d) {
  /* MHDR(1) FHDR(7+) ... MIC(4) */
  if (len < 1 + 7 + LG_MIC_LEN) return LG_ETRUNC;
  size_t end = len - LG_MIC_LEN; /* first MIC byte */
  d->dev_addr = lg_get_le32(p + 1);
  d->fctrl = p[5];
  d->f_cnt16 = lg_get_le16(p + 6);
  d->f_opts_len = d->fctrl & LG_FCTRL_FOPTS_LEN;
  size_t pos = 8;
  if (pos + d->f_opts_len > end) return LG_ETRUNC;
  memcpy(d->f_opts, p + pos, d->f_opts_len);
  pos += d->f_opts_len;
  d->has_f_port = pos < end;
  d->f_port = 0;
  d->frm_payload_len = 0;
  if (d->has_f_port) {
    d->f_port = p[pos++];
    d->frm_payload_len = end - pos;
    memcpy(d->frm_payload, p + pos, d->frm_payload_len);
    /* 1.0.4 §4.3.1.6: MAC commands are either in FOpts or in FRMPayload, never both. */
    if (d->f_port == 0 && d->f_opts_len > 0) return LG_EINVAL;
  }
  return 0;
}

static int decode_rejoin(const uint8_t *p, size_t len, struct lg_rejoin_request *r) {
  if (len < 2) return LG_ETRUNC;
  memset(r, 0, sizeof(*r));
  r->rejoin_type = p[1];
  if (r->rejoin_type == 0 || r->rejoin_type == 2) {
    /* MHDR | type | NetID(3) | DevEUI(8) | RJcount0(2) | MIC */
    if (len < 19) return LG_ETRUNC;
    if (len > 19) return LG_ETOOLONG;
    r->net_id = lg_get_le24(p + 2);
    r->dev_eui = lg_get_le64(p + 5);
    r->rj_count = lg_get_le16(p + 13);
  } else if (r->rejoin_type == 1) {
    /* MHDR | type | JoinEUI(8) | DevEUI(8) | RJcount1(2) | MIC */
    if (len < 24) return LG_ETRUNC;
    if (len > 24) return LG_ETOOLONG;
    r->join_eui = lg_get_le64(p + 2);
    r->dev_eui = lg_get_le64(p + 10);
    r->rj_count = lg_get_le16(p + 18);
  } else {
    return LG_EINVAL;
  }
  return 0;
}

int lg_frame_decode(const uint8_t *phy, size_t len, struct lg_frame *f) {
  if (len < 1) return LG_ETRUNC;
  if (len > LG_PHY_MAX) return LG_ETOOLONG;
  f->mhdr = phy[0];
  f->mtype = (enum lg_mtype)(phy[0] >> 5);
  f->major = phy[0] & 0x03;
  memset(f->mic, 0, sizeof(f->mic));
  if (f->mtype == LG_MTYPE_PROPRIETARY) {
    /* Proprietary layout is the vendor's; keep the bytes, interpret nothing. */
    f->u.proprietary.len = len - 1;
    memcpy(f->u.proprietary.bytes, phy + 1, len - 1);
    return 0;
  }
  if (f->major != 0) return LG_EMTYPE;

  int err = 0;
  switch (f->mtype) {
  case LG_MTYPE_JOIN_REQUEST:
    /* MHDR | JoinEUI(8) | DevEUI(8) | DevNonce(2) | MIC */
    if (len < 23) return LG_ETRUNC;
    if (len > 23) return LG_ETOOLONG;
    f->u.join_req.join_eui = lg_get_le64(phy + 1);
    f->u.join_req.dev_eui = lg_get_le64(phy + 9);
    f->u.join_req.dev_nonce = lg_get_le16(phy + 17);
    break;
  case LG_MTYPE_JOIN_ACCEPT:
    if (len < 17) return LG_ETRUNC;
    if (len != 17 && len != 33) return len > 33 ? LG_ETOOLONG : LG_EINVAL;
    f->u.join_accept.len = len - 1;
    memcpy(f->u.join_accept.enc, phy + 1, len - 1);
    return 0; /* its MIC is inside the encryption */
  case LG_MTYPE_REJOIN_REQUEST: err = decode_rejoin(phy, len, &f->u.rejoin); break;
  default: err = decode_data(phy, len, &f->u.data); break;
  }
  if (err) return err;
  memcpy(f->mic, phy + len - LG_MIC_LEN, LG_MIC_LEN);
  return 0;
}

static int encode_data(const struct lg_frame *f, uint8_t *out, size_t cap, size_t *len) {
  const struct lg_data_frame *d = &f->u.data;
  if (d->f_opts_len > LG_FOPTS_MAX) return LG_EINVAL;
  if (!d->has_f_port && d->frm_payload_len > 0) return LG_EINVAL;
  size_t need = 1 + 7 + d->f_opts_len + (d->has_f_port ? 1 + d->frm_payload_len : 0) + 4;
  if (need > LG_PHY_MAX) return LG_EINVAL;
  if (need > cap) return LG_ENOSPC;
  out[0] = f->mhdr;
  lg_put_le32(out + 1, d->dev_addr);
  out[5] = (uint8_t)((d->fctrl & ~LG_FCTRL_FOPTS_LEN) | d->f_opts_len);
  lg_put_le16(out + 6, d->f_cnt16);
  size_t pos = 8;
  memcpy(out + pos, d->f_opts, d->f_opts_len);
  pos += d->f_opts_len;
  if (d->has_f_port) {
    out[pos++] = d->f_port;
    memcpy(out + pos, d->frm_payload, d->frm_payload_len);
    pos += d->frm_payload_len;
  }
  memcpy(out + pos, f->mic, LG_MIC_LEN);
  *len = pos + LG_MIC_LEN;
  return 0;
}

int lg_frame_encode(const struct lg_frame *f, uint8_t *out, size_t cap, size_t *len) {
  /* MType and Major from their fields; the RFU bits 4..2 as received (normally 0). */
  uint8_t mhdr = (uint8_t)(((unsigned)f->mtype << 5) | (f->mhdr & 0x1c) | (f->major & 0x03));
  size_t n;
  if ((unsigned)f->mtype > 7) return LG_EINVAL;
  switch (f->mtype) {
  case LG_MTYPE_JOIN_REQUEST:
    if (cap < 23) return LG_ENOSPC;
    out[0] = mhdr;
    lg_put_le64(out + 1, f->u.join_req.join_eui);
    lg_put_le64(out + 9, f->u.join_req.dev_eui);
    lg_put_le16(out + 17, f->u.join_req.dev_nonce);
    memcpy(out + 19, f->mic, LG_MIC_LEN);
    *len = 23;
    return 0;
  case LG_MTYPE_JOIN_ACCEPT:
    n = f->u.join_accept.len;
    if (n != 16 && n != 32) return LG_EINVAL;
    if (cap < n + 1) return LG_ENOSPC;
    out[0] = mhdr;
    memcpy(out + 1, f->u.join_accept.enc, n);
    *len = n + 1;
    return 0;
  case LG_MTYPE_REJOIN_REQUEST: {
    const struct lg_rejoin_request *r = &f->u.rejoin;
    n = r->rejoin_type == 1 ? 24 : 19;
    if (r->rejoin_type > 2) return LG_EINVAL;
    if (cap < n) return LG_ENOSPC;
    out[0] = mhdr;
    out[1] = r->rejoin_type;
    if (r->rejoin_type == 1) {
      lg_put_le64(out + 2, r->join_eui);
      lg_put_le64(out + 10, r->dev_eui);
      lg_put_le16(out + 18, r->rj_count);
    } else {
      lg_put_le24(out + 2, r->net_id);
      lg_put_le64(out + 5, r->dev_eui);
      lg_put_le16(out + 13, r->rj_count);
    }
    memcpy(out + n - LG_MIC_LEN, f->mic, LG_MIC_LEN);
    *len = n;
    return 0;
  }
  case LG_MTYPE_PROPRIETARY:
    n = f->u.proprietary.len;
    if (n + 1 > LG_PHY_MAX) return LG_EINVAL;
    if (cap < n + 1) return LG_ENOSPC;
    out[0] = (uint8_t)(0xe0 | (f->mhdr & 0x1f)); /* keep the vendor's low bits */
    memcpy(out + 1, f->u.proprietary.bytes, n);
    *len = n + 1;
    return 0;
  default: {
    struct lg_frame g = *f;
    g.mhdr = mhdr;
    return encode_data(&g, out, cap, len);
  }
  }
}

int lg_join_accept_parse(const uint8_t *plain, size_t len, struct lg_join_accept *ja,
                         uint8_t mic[LG_MIC_LEN]) {
  if (len != 16 && len != 32) return LG_EINVAL;
  memset(ja, 0, sizeof(*ja));
  ja->join_nonce = lg_get_le24(plain);
  ja->net_id = lg_get_le24(plain + 3);
  ja->dev_addr = lg_get_le32(plain + 6);
  ja->dl_settings = plain[10];
  ja->rx_delay = plain[11];
  ja->has_cf_list = len == 32;
  if (ja->has_cf_list) memcpy(ja->cf_list, plain + 12, LG_CFLIST_LEN);
  memcpy(mic, plain + len - LG_MIC_LEN, LG_MIC_LEN);
  return 0;
}

int lg_join_accept_write(const struct lg_join_accept *ja, uint8_t *out, size_t cap, size_t *len) {
  size_t n = ja->has_cf_list ? 28 : 12;
  if (ja->join_nonce > 0xffffff || ja->net_id > 0xffffff) return LG_EINVAL;
  if (cap < n) return LG_ENOSPC;
  lg_put_le24(out, ja->join_nonce);
  lg_put_le24(out + 3, ja->net_id);
  lg_put_le32(out + 6, ja->dev_addr);
  out[10] = ja->dl_settings;
  out[11] = ja->rx_delay;
  if (ja->has_cf_list) memcpy(out + 12, ja->cf_list, LG_CFLIST_LEN);
  *len = n;
  return 0;
}
