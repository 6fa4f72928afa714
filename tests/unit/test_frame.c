/*
 * lorawan codec: encode/decode round trips for every MType, length and field
 * errors, FCnt reconstruction, and the MAC command set (lengths per direction,
 * round trips, unknown CIDs reported, truncation).
 */
#include "lg_test.h"
#include "lorawan/lorawan.h"

static void roundtrip(const char *hex, enum lg_mtype want) {
  uint8_t phy[LG_PHY_MAX], out[LG_PHY_MAX];
  size_t len = lg_test_hex(hex, phy, sizeof(phy)), n = 0;
  struct lg_frame f;
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  LG_EQ_INT(f.mtype, want);
  LG_EQ_INT(lg_frame_encode(&f, out, sizeof(out), &n), 0);
  LG_EQ_INT(n, len);
  LG_EQ_HEX(out, hex, len);
}

static void test_roundtrips(void) {
  roundtrip("0039363463336913aa05693574323831330489c65b1304", LG_MTYPE_JOIN_REQUEST);
  roundtrip("2023cf335489aae3183c0be0baa8dee5f3", LG_MTYPE_JOIN_ACCEPT);
  roundtrip("40f17dbe4900020001954378762b11ff0d", LG_MTYPE_UNCONFIRMED_UP);
  roundtrip("60f17dbe4920020001f9d65d27", LG_MTYPE_UNCONFIRMED_DOWN);
  roundtrip("80040302010300000673070ae264d4f7e117d2c0", LG_MTYPE_CONFIRMED_UP);
  roundtrip("a0040302010300000673070ae264d4f7e117d2c0", LG_MTYPE_CONFIRMED_DOWN);
  roundtrip("c000aabbcc0102030405060708090a11223344", LG_MTYPE_REJOIN_REQUEST);
  roundtrip("c0010102030405060708a1a2a3a4a5a6a7a8090a11223344", LG_MTYPE_REJOIN_REQUEST);
  roundtrip("e0deadbeef", LG_MTYPE_PROPRIETARY);
  roundtrip("e5", LG_MTYPE_PROPRIETARY);
  /* No FPort: FHDR only; FPort with empty FRMPayload. */
  roundtrip("4001020304000500aabbccdd", LG_MTYPE_UNCONFIRMED_UP);
  roundtrip("400102030400050001aabbccdd", LG_MTYPE_UNCONFIRMED_UP);
  /* 33-byte join-accept (with CFList). */
  roundtrip("20000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            LG_MTYPE_JOIN_ACCEPT);
}

static void test_fields(void) {
  uint8_t phy[LG_PHY_MAX];
  struct lg_frame f;
  size_t len = lg_test_hex("c000aabbcc0102030405060708090a11223344", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  LG_EQ_INT(f.u.rejoin.rejoin_type, 0);
  LG_EQ_INT(f.u.rejoin.net_id, 0xccbbaa);
  LG_EQ_INT(f.u.rejoin.dev_eui, 0x0807060504030201ll);
  LG_EQ_INT(f.u.rejoin.rj_count, 0x0a09);

  len = lg_test_hex("80040302010300000673070ae264d4f7e117d2c0", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  LG_EQ_INT(f.u.data.dev_addr, 0x01020304);
  LG_EQ_INT(f.u.data.f_opts_len, 3);
  LG_EQ_HEX(f.u.data.f_opts, "067307", 3);
  LG_CHECK(f.u.data.has_f_port);
  LG_EQ_INT(f.u.data.f_port, 10);
  LG_EQ_INT(f.u.data.frm_payload_len, 4);
  LG_EQ_HEX(f.mic, "e117d2c0", 4);

  /* FCtrl flags: ADR|ADRACKReq|ACK|ClassB with FOptsLen 0. */
  len = lg_test_hex("4004030201f0010001aabbccdd", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  LG_EQ_INT(f.u.data.fctrl, 0xf0);
  LG_EQ_INT(f.u.data.f_cnt16, 1);
}

static void test_errors(void) {
  uint8_t phy[300] = {0};
  struct lg_frame f;
  size_t len;
  LG_EQ_INT(lg_frame_decode(phy, 0, &f), LG_ETRUNC);
  /* Data frame shorter than MHDR + FHDR + MIC. */
  len = lg_test_hex("40f17dbe49000200954378", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), LG_ETRUNC);
  /* FOptsLen 15 but only 2 bytes before the MIC. */
  len = lg_test_hex("40f17dbe490f02000102aabbccdd", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), LG_ETRUNC);
  /* FOpts with FPort 0 is invalid (1.0.4 §4.3.1.6). */
  len = lg_test_hex("40f17dbe4901020006000102aabbccdd", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), LG_EINVAL);
  /* Join-request one byte short / long. */
  len = lg_test_hex("0039363463336913aa05693574323831330489c65b13", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), LG_ETRUNC);
  len = lg_test_hex("0039363463336913aa05693574323831330489c65b130400", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), LG_ETOOLONG);
  /* Join-accept of 20 bytes. */
  len = lg_test_hex("2023cf335489aae3183c0be0baa8dee5f3000000", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), LG_EINVAL);
  /* Major version 1 is RFU. */
  len = lg_test_hex("41f17dbe4900020001954378762b11ff0d", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), LG_EMTYPE);
  /* Rejoin type 3 undefined. */
  len = lg_test_hex("c003aabbcc0102030405060708090a11223344", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), LG_EINVAL);
  /* Longer than any LoRa payload. */
  memset(phy, 0x40, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, 256, &f), LG_ETOOLONG);
  LG_EQ_INT(lg_frame_decode(phy, 255, &f), 0);

  /* Encoder refuses payload without FPort and too small buffers. */
  memset(&f, 0, sizeof(f));
  f.mtype = LG_MTYPE_UNCONFIRMED_UP;
  f.u.data.frm_payload_len = 3;
  uint8_t out[16];
  LG_EQ_INT(lg_frame_encode(&f, out, sizeof(out), &len), LG_EINVAL);
  f.u.data.has_f_port = true;
  f.u.data.f_port = 1;
  LG_EQ_INT(lg_frame_encode(&f, out, 10, &len), LG_ENOSPC);
  LG_EQ_INT(lg_frame_encode(&f, out, sizeof(out), &len), 0);
  LG_EQ_INT(len, 16);
}

static void test_fcnt(void) {
  LG_EQ_INT(lg_fcnt_extend(0, 0), 0);
  LG_EQ_INT(lg_fcnt_extend(5, 5), 5); /* retransmission */
  LG_EQ_INT(lg_fcnt_extend(5, 6), 6);
  LG_EQ_INT(lg_fcnt_extend(0xfffe, 0x0001), 0x10001); /* low half rolled over */
  LG_EQ_INT(lg_fcnt_extend(0x1fffe, 0xffff), 0x1ffff);
  LG_EQ_INT(lg_fcnt_extend(0x12345, 0x2345), 0x12345);
  LG_EQ_INT(lg_fcnt_extend(0x12345, 0x2344), 0x22344); /* older → next epoch */
  LG_EQ_INT(lg_fcnt_extend(0xffffffffu, 0x0000), 0);   /* wraps mod 2^32 */
}

/* Every defined command in both directions encodes to 1 + its length and parses back. */
static void test_mac_roundtrip(void) {
  struct lg_mac_cmd in[32], out[32];
  size_t n = 0;
  memset(in, 0, sizeof(in));
#define ADD(dir, id) (in[n].uplink = (dir), in[n].cid = (id), &in[n++])
  ADD(true, LG_MAC_LINK_CHECK);
  ADD(false, LG_MAC_LINK_CHECK)->u.link_check_ans.margin_db = 20;
  in[n - 1].u.link_check_ans.gw_cnt = 3;
  struct lg_mac_cmd *c = ADD(false, LG_MAC_LINK_ADR);
  c->u.link_adr_req.dr = 5;
  c->u.link_adr_req.tx_power = 2;
  c->u.link_adr_req.ch_mask = 0x00ff;
  c->u.link_adr_req.ch_mask_cntl = 6;
  c->u.link_adr_req.nb_trans = 1;
  c = ADD(true, LG_MAC_LINK_ADR);
  c->u.link_adr_ans.power_ack = true;
  c->u.link_adr_ans.ch_mask_ack = true;
  ADD(false, LG_MAC_DUTY_CYCLE)->u.duty_cycle_req.max_duty_cycle = 7;
  ADD(true, LG_MAC_DUTY_CYCLE);
  c = ADD(false, LG_MAC_RX_PARAM_SETUP);
  c->u.rx_param_setup_req.rx1_dr_offset = 2;
  c->u.rx_param_setup_req.rx2_dr = 3;
  c->u.rx_param_setup_req.freq_hz = 869525000;
  ADD(true, LG_MAC_RX_PARAM_SETUP)->u.rx_param_setup_ans.rx2_dr_ack = true;
  ADD(false, LG_MAC_DEV_STATUS);
  c = ADD(true, LG_MAC_DEV_STATUS);
  c->u.dev_status_ans.battery = 254;
  c->u.dev_status_ans.margin_db = -32;
  c = ADD(false, LG_MAC_NEW_CHANNEL);
  c->u.new_channel_req.ch_index = 3;
  c->u.new_channel_req.freq_hz = 867100000;
  c->u.new_channel_req.min_dr = 0;
  c->u.new_channel_req.max_dr = 5;
  ADD(true, LG_MAC_NEW_CHANNEL)->u.new_channel_ans.dr_range_ok = true;
  ADD(false, LG_MAC_RX_TIMING_SETUP)->u.rx_timing_setup_req.delay_s = 15;
  ADD(true, LG_MAC_RX_TIMING_SETUP);
  c = ADD(false, LG_MAC_TX_PARAM_SETUP);
  c->u.tx_param_setup_req.downlink_dwell = true;
  c->u.tx_param_setup_req.max_eirp = 13;
  ADD(true, LG_MAC_TX_PARAM_SETUP);
  c = ADD(false, LG_MAC_DL_CHANNEL);
  c->u.dl_channel_req.ch_index = 1;
  c->u.dl_channel_req.freq_hz = 868300000;
  ADD(true, LG_MAC_DL_CHANNEL)->u.dl_channel_ans.uplink_freq_exists = true;
  ADD(true, LG_MAC_DEVICE_TIME);
  c = ADD(false, LG_MAC_DEVICE_TIME);
  c->u.device_time_ans.gps_seconds = 1400000000u;
  c->u.device_time_ans.fraction = 128;
  ADD(true, LG_MAC_PING_SLOT_INFO)->u.ping_slot_info_req.periodicity = 7;
  ADD(false, LG_MAC_PING_SLOT_INFO);
  c = ADD(false, LG_MAC_PING_SLOT_CHANNEL);
  c->u.ping_slot_channel_req.freq_hz = 869525000;
  c->u.ping_slot_channel_req.dr = 3;
  ADD(true, LG_MAC_PING_SLOT_CHANNEL)->u.ping_slot_channel_ans.dr_ok = true;
  ADD(false, LG_MAC_BEACON_FREQ)->u.beacon_freq_req.freq_hz = 869525000;
  ADD(true, LG_MAC_BEACON_FREQ)->u.beacon_freq_ans.beacon_freq_ok = true;
#undef ADD

  /* 1.0.4 Table 4 payload lengths (Req down / Ans up, or the reverse for 0x02, 0x0D, 0x10). */
  static const struct {
    uint8_t cid;
    int up, down;
  } lens[] = {{0x02, 0, 2}, {0x03, 1, 4}, {0x04, 0, 1}, {0x05, 1, 4}, {0x06, 2, 0},
              {0x07, 1, 5}, {0x08, 0, 1}, {0x09, 0, 1}, {0x0a, 1, 4}, {0x0d, 0, 5},
              {0x10, 1, 0}, {0x11, 1, 4}, {0x13, 1, 3}};
  for (size_t i = 0; i < LG_ARRAY_LEN(lens); i++) {
    LG_EQ_INT(lg_mac_payload_len(lens[i].cid, true), lens[i].up);
    LG_EQ_INT(lg_mac_payload_len(lens[i].cid, false), lens[i].down);
  }

  for (int dir = 0; dir <= 1; dir++) {
    uint8_t buf[256];
    size_t len = 0, expected = 0, count = 0, bad = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
      if (in[i].uplink != (dir == 1)) continue;
      LG_EQ_INT(lg_mac_encode(&in[i], buf, sizeof(buf), &len), 0);
      expected += 1 + (size_t)lg_mac_payload_len(in[i].cid, in[i].uplink);
      LG_EQ_INT(len, expected);
    }
    LG_EQ_INT(lg_mac_parse(buf, len, dir == 1, out, 32, &count, &bad), 0);
    for (size_t i = 0; i < n; i++) {
      if (in[i].uplink != (dir == 1)) continue;
      LG_CHECK(k < count);
      if (k >= count) break;
      LG_EQ_INT(out[k].cid, in[i].cid);
      LG_CHECK(memcmp(&out[k], &in[i], sizeof(in[i])) == 0);
      k++;
    }
    LG_EQ_INT(k, count);
  }
}

static void test_mac_errors(void) {
  struct lg_mac_cmd cmds[4];
  size_t count = 9, bad = 9;
  /* DevStatusAns then 0x0B (RekeyInd, LoRaWAN 1.1 only): parsing stops at byte 3. */
  uint8_t a[] = {0x06, 0xff, 0x3f, 0x0b, 0x01};
  LG_EQ_INT(lg_mac_parse(a, sizeof(a), true, cmds, 4, &count, &bad), LG_EUNKNOWN);
  LG_EQ_INT(count, 1);
  LG_EQ_INT(bad, 3);
  LG_EQ_INT(cmds[0].u.dev_status_ans.margin_db, -1);
  /* Proprietary CID 0x80 has no known length. */
  uint8_t b[] = {0x80, 0x00};
  LG_EQ_INT(lg_mac_parse(b, sizeof(b), false, cmds, 4, &count, &bad), LG_EUNKNOWN);
  LG_EQ_INT(bad, 0);
  /* LinkADRReq cut short. */
  uint8_t c[] = {0x03, 0x51, 0xff};
  LG_EQ_INT(lg_mac_parse(c, sizeof(c), false, cmds, 4, &count, &bad), LG_ETRUNC);
  LG_EQ_INT(count, 0);
  uint8_t c2[] = {0x02, 0x0a, 0x01, 0x03, 0x51, 0xff};
  LG_EQ_INT(lg_mac_parse(c2, sizeof(c2), false, cmds, 4, &count, &bad), LG_ETRUNC);
  LG_EQ_INT(count, 1);
  LG_EQ_INT(bad, 3);
  /* Capacity. */
  uint8_t d[] = {0x02, 0x02, 0x02};
  LG_EQ_INT(lg_mac_parse(d, sizeof(d), true, cmds, 2, &count, &bad), LG_ENOSPC);
  LG_EQ_INT(count, 2);
  /* The same byte means different things by direction: 0x06 up has 2 bytes, down 0. */
  uint8_t e[] = {0x06, 0x06};
  LG_EQ_INT(lg_mac_parse(e, sizeof(e), false, cmds, 4, &count, &bad), 0);
  LG_EQ_INT(count, 2);
  LG_EQ_STR(lg_mac_name(0x06, false), "DevStatusReq");
  LG_EQ_STR(lg_mac_name(0x06, true), "DevStatusAns");
  LG_CHECK(lg_mac_name(0x0c, true) == NULL);
  LG_CHECK(lg_mac_name(0x12, false) == NULL);

  /* Encoder range checks. */
  struct lg_mac_cmd m;
  uint8_t buf[8];
  size_t len = 0;
  memset(&m, 0, sizeof(m));
  m.cid = LG_MAC_DL_CHANNEL;
  m.u.dl_channel_req.freq_hz = 868300050; /* not a multiple of 100 Hz */
  LG_EQ_INT(lg_mac_encode(&m, buf, sizeof(buf), &len), LG_EINVAL);
  m.cid = LG_MAC_LINK_ADR;
  m.u.link_adr_req.dr = 16;
  LG_EQ_INT(lg_mac_encode(&m, buf, sizeof(buf), &len), LG_EINVAL);
  m.uplink = true;
  m.cid = 0x0b;
  LG_EQ_INT(lg_mac_encode(&m, buf, sizeof(buf), &len), LG_EUNKNOWN);
  m.cid = LG_MAC_DEV_STATUS;
  m.u.dev_status_ans.margin_db = 40;
  LG_EQ_INT(lg_mac_encode(&m, buf, sizeof(buf), &len), LG_EINVAL);
  m.u.dev_status_ans.margin_db = 0;
  len = 6;
  LG_EQ_INT(lg_mac_encode(&m, buf, sizeof(buf), &len), LG_ENOSPC);
}

int main(void) {
  test_roundtrips();
  test_fields();
  test_errors();
  test_fcnt();
  test_mac_roundtrip();
  test_mac_errors();
  return lg_test_report("test_frame");
}
