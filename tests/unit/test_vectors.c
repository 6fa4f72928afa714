/*
 * lorawan crypto against published vectors. Each row is cited by its V-number in
 * ../shared/reference/lorawan-vectors.md and by its original source:
 *   lora-packet __tests__ (mic_test, decrypt_test, key_gen_test, join_accept_encrypt),
 *   ChirpStack lrwn/src/phy_payload.rs and lrwn/src/keys.rs doc tests,
 *   The Things Stack pkg/crypto data_messages_test.go, RFC 4493 §4.
 */
#include "lg_test.h"
#include "lorawan/lorawan.h"

static struct lg_crypto crypto;

static void key_from_hex(struct lg_key *k, const char *hex) {
  uint8_t b[16];
  lg_test_hex(hex, b, sizeof(b));
  if (lg_key_init(k, &crypto, b) != 0) LG_FAIL_AT("lg_key_init failed");
}

/* Verifies a data frame's MIC and returns its decrypted FRMPayload in `plain`. */
static size_t check_data(const char *phy_hex, const char *nwk_hex, const char *app_hex,
                         const char *want_mic, uint8_t *plain) {
  uint8_t phy[LG_PHY_MAX], mic[4];
  size_t len = lg_test_hex(phy_hex, phy, sizeof(phy));
  struct lg_frame f;
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  struct lg_key nwk, app;
  key_from_hex(&nwk, nwk_hex);
  key_from_hex(&app, app_hex);
  bool down = !lg_mtype_is_uplink(f.mtype);
  LG_EQ_INT(lg_data_mic(&nwk, phy, len - 4, f.u.data.dev_addr, f.u.data.f_cnt16, down, mic), 0);
  LG_EQ_HEX(mic, want_mic, 4);
  LG_EQ_HEX(f.mic, want_mic, 4);
  struct lg_key *k = f.u.data.f_port == 0 ? &nwk : &app;
  LG_EQ_INT(lg_payload_crypt(k, f.u.data.dev_addr, f.u.data.f_cnt16, down, f.u.data.frm_payload,
                             f.u.data.frm_payload_len, plain),
            0);
  lg_key_close(&nwk);
  lg_key_close(&app);
  return f.u.data.frm_payload_len;
}

static void test_v1_v2_v3(void) {
  uint8_t plain[LG_PHY_MAX];
  size_t n = check_data("40F17DBE4900020001954378762B11FF0D", "44024241ed4ce9a68c6a8bc055233fd3",
                        "ec925802ae430ca77fd3dd73cb2cc588", "2b11ff0d", plain);
  LG_EQ_INT(n, 4);
  LG_CHECK(memcmp(plain, "test", 4) == 0);

  /* V2: three AES blocks of keystream; the MIC of this frame is not published, so
   * only the plaintext is checked. */
  uint8_t phy[LG_PHY_MAX];
  size_t len = lg_test_hex("40f17dbe490004000155332de41a11adc072553544429ce7787707d1c316e027e7e5"
                           "e334263376affb8aa17ad30075293f28dea8a20af3c5e7",
                           phy, sizeof(phy));
  struct lg_frame f;
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  struct lg_key app;
  key_from_hex(&app, "ec925802ae430ca77fd3dd73cb2cc588");
  LG_EQ_INT(lg_payload_crypt(&app, f.u.data.dev_addr, f.u.data.f_cnt16, false, f.u.data.frm_payload,
                             f.u.data.frm_payload_len, plain),
            0);
  const char *fox = "The quick brown fox jumps over the lazy dog.";
  LG_EQ_INT(f.u.data.frm_payload_len, strlen(fox));
  LG_CHECK(memcmp(plain, fox, strlen(fox)) == 0);
  lg_key_close(&app);

  /* V3: downlink ACK, dir = 1 in B0. */
  len = lg_test_hex("60f17dbe4920020001f9d65d27", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  LG_EQ_INT(f.mtype, LG_MTYPE_UNCONFIRMED_DOWN);
  LG_CHECK(f.u.data.fctrl & LG_FCTRL_ACK);
  struct lg_key nwk;
  uint8_t mic[4];
  key_from_hex(&nwk, "44024241ed4ce9a68c6a8bc055233fd3");
  LG_EQ_INT(lg_data_mic(&nwk, phy, len - 4, f.u.data.dev_addr, 2, true, mic), 0);
  LG_EQ_HEX(mic, "f9d65d27", 4);
  lg_key_close(&nwk);
}

static void test_v4_v5_v6_v7(void) {
  struct lg_key app;
  uint8_t phy[64], mic[4];
  key_from_hex(&app, "98929b92c49edba9676d646d3b612456");
  /* V4: join-request MIC. */
  size_t len = lg_test_hex("0039363463336913AA05693574323831330489C65B1304", phy, sizeof(phy));
  struct lg_frame f;
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  LG_EQ_INT(f.mtype, LG_MTYPE_JOIN_REQUEST);
  LG_EQ_INT(f.u.join_req.dev_nonce, 0x8904);
  LG_EQ_INT(lg_join_mic(&app, phy, len - 4, mic), 0);
  LG_EQ_HEX(mic, "c65b1304", 4);
  /* V5: join-accept MIC over MHDR | plaintext body. */
  len = lg_test_hex("20386337CCBBAAE7CD2C010000D9D0A6E7", phy, sizeof(phy));
  LG_EQ_INT(lg_join_mic(&app, phy, len - 4, mic), 0);
  LG_EQ_HEX(mic, "d9d0a6e7", 4);
  /* V6: 1.0 session keys; AppNonce 376338, NetID aabbcc, DevNonce f18e (MSB first). */
  uint8_t nwk_s[16], app_s[16];
  LG_EQ_INT(lg_derive_session_keys_10(&app, 0x376338, 0xaabbcc, 0xf18e, nwk_s, app_s), 0);
  LG_EQ_HEX(nwk_s, "4e3d6e6afbcc67af2ba3c8e8ec4acf4b", 16);
  LG_EQ_HEX(app_s, "610897aa6f1460623443b527d3ac6a9d", 16);
  lg_key_close(&app);

  /* V7: all-zero AppKey and body: MIC f86f0a91, encrypted PHY 20e3de...b5b3. */
  uint8_t zero[16] = {0}, msg[17] = {0x20}, enc[16];
  struct lg_key z;
  LG_EQ_INT(lg_key_init(&z, &crypto, zero), 0);
  LG_EQ_INT(lg_join_mic(&z, msg, 13, mic), 0);
  LG_EQ_HEX(mic, "f86f0a91", 4);
  memcpy(msg + 13, mic, 4);
  LG_EQ_INT(lg_join_accept_encrypt(&z, msg + 1, 16, enc), 0);
  LG_EQ_HEX(enc, "e3de108795f776b8037610ef7869b5b3", 16);
  uint8_t back[16];
  LG_EQ_INT(lg_join_accept_decrypt(&z, enc, 16, back), 0);
  LG_EQ_HEX(back, "000000000000000000000000f86f0a91", 16);
  lg_key_close(&z);
}

static void test_v8_v14(void) {
  struct lg_key k;
  uint8_t a[16], b[16];
  /* V8: 1.1 join-server keys from NwkKey and DevEUI. */
  key_from_hex(&k, "089234b089c2d8490edf8c9f9b8e8f9c");
  LG_EQ_INT(lg_derive_js_keys_11(&k, 0x0123456789abcdefull, a, b), 0);
  LG_EQ_HEX(a, "bd147194430d6fec1351a327ee40e264", 16);
  LG_EQ_HEX(b, "8c61658dc01ee8add0c0becf90d2dc50", 16);
  lg_key_close(&k);
  /* V14: ChirpStack keys.rs, JoinNonce 65536, NetID 010203, DevNonce 258. */
  key_from_hex(&k, "01020304050607080102030405060708");
  LG_EQ_INT(lg_derive_session_keys_10(&k, 65536, 0x010203, 258, a, b), 0);
  LG_EQ_HEX(a, "df53c35f3034ccced0ff354c70de04df", 16);
  LG_EQ_HEX(b, "927b9c911183cffe4cb2ff4b75545f6d", 16);
  lg_key_close(&k);
}

static void test_chirpstack_frames(void) {
  struct lg_key k;
  uint8_t phy[64], mic[4], plain[64];
  struct lg_frame f;
  key_from_hex(&k, "0102030405060708090a0b0c0d0e0f10");
  /* V9: join-request built from fields, DevNonce 771. */
  memset(&f, 0, sizeof(f));
  f.mtype = LG_MTYPE_JOIN_REQUEST;
  f.major = 0;
  f.u.join_req.join_eui = 0x0101010101010101ull;
  f.u.join_req.dev_eui = 0x0202020202020202ull;
  f.u.join_req.dev_nonce = 771;
  memset(f.mic, 0, 4);
  size_t len = 0;
  LG_EQ_INT(lg_frame_encode(&f, phy, sizeof(phy), &len), 0);
  LG_EQ_HEX(phy, "00010101010101010102020202020202020303", 19);
  LG_EQ_INT(lg_join_mic(&k, phy, 19, mic), 0);
  LG_EQ_HEX(mic, "09b97b32", 4);

  /* V10: 1.0 join-accept. */
  len = lg_test_hex("2023cf335489aae3183c0be0baa8dee5f3", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  LG_EQ_INT(f.mtype, LG_MTYPE_JOIN_ACCEPT);
  LG_EQ_INT(lg_join_accept_decrypt(&k, f.u.join_accept.enc, 16, plain + 1), 0);
  struct lg_join_accept ja;
  LG_EQ_INT(lg_join_accept_parse(plain + 1, 16, &ja, mic), 0);
  LG_EQ_INT(ja.join_nonce, 0x010101);
  LG_EQ_INT(ja.net_id, 0x020202);
  LG_EQ_INT(ja.dev_addr, 0x01020304);
  LG_EQ_INT(ja.dl_settings, 0);
  LG_EQ_INT(ja.rx_delay, 0);
  LG_CHECK(!ja.has_cf_list);
  LG_EQ_HEX(mic, "3449f212", 4);
  plain[0] = 0x20;
  uint8_t want[4];
  LG_EQ_INT(lg_join_mic(&k, plain, 13, want), 0);
  LG_EQ_HEX(want, "3449f212", 4);

  /* V11: 1.1 join-accept with OptNeg; MIC over JoinReqType | JoinEUI | DevNonce | MHDR | body. */
  len = lg_test_hex("207abeea06b02920f11c02d0348fcf1815", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  plain[0] = 0x20;
  LG_EQ_INT(lg_join_accept_decrypt(&k, f.u.join_accept.enc, 16, plain + 1), 0);
  LG_EQ_INT(lg_join_accept_parse(plain + 1, 16, &ja, mic), 0);
  LG_EQ_INT(ja.dl_settings, 0x80);
  LG_EQ_INT(lg_join_accept_mic_11(&k, 0xff, 0x0807060504030201ull, 258, plain, 13, want), 0);
  LG_EQ_HEX(want, "93ff9a3a", 4);
  LG_EQ_HEX(mic, "93ff9a3a", 4);
  lg_key_close(&k);

  /* V12: 1.0 confirmed uplink with DevStatusAns in FOpts. */
  size_t n =
      check_data("80040302010300000673070ae264d4f7e117d2c0", "0102030405060708090a0b0c0d0e0f10",
                 "100f0e0d0c0b0a090807060504030201", "e117d2c0", plain);
  LG_EQ_HEX(plain, "01020304", n);
  len = lg_test_hex("80040302010300000673070ae264d4f7e117d2c0", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  struct lg_mac_cmd cmds[4];
  size_t count = 0, bad = 0;
  LG_EQ_INT(lg_mac_parse(f.u.data.f_opts, f.u.data.f_opts_len, true, cmds, 4, &count, &bad), 0);
  LG_EQ_INT(count, 1);
  LG_EQ_INT(cmds[0].cid, LG_MAC_DEV_STATUS);
  LG_EQ_INT(cmds[0].u.dev_status_ans.battery, 115);
  LG_EQ_INT(cmds[0].u.dev_status_ans.margin_db, 7);

  /* V13: 1.1 downlink with encrypted FOpts (NwkSEncKey), FRMPayload on FPort 1. */
  len = lg_test_hex("600403020103000022ac0a01f0b468ddaa5ed13a", phy, sizeof(phy));
  LG_EQ_INT(lg_frame_decode(phy, len, &f), 0);
  LG_EQ_INT(f.u.data.f_opts_len, 3);
  key_from_hex(&k, "01010101010101010101010101010200");
  LG_EQ_INT(lg_fopts_crypt_11(&k, f.u.data.dev_addr, f.u.data.f_cnt16, true,
                              f.u.data.has_f_port && f.u.data.f_port > 0, f.u.data.f_opts, 3,
                              plain),
            0);
  LG_EQ_HEX(plain, "020701", 3);
  LG_EQ_INT(lg_mac_parse(plain, 3, false, cmds, 4, &count, &bad), 0);
  LG_EQ_INT(cmds[0].cid, LG_MAC_LINK_CHECK);
  LG_EQ_INT(cmds[0].u.link_check_ans.margin_db, 7);
  LG_EQ_INT(cmds[0].u.link_check_ans.gw_cnt, 1);
  lg_key_close(&k);
  key_from_hex(&k, "100f0e0d0c0b0a090807060504030201");
  LG_EQ_INT(lg_payload_crypt(&k, f.u.data.dev_addr, f.u.data.f_cnt16, true, f.u.data.frm_payload,
                             f.u.data.frm_payload_len, plain),
            0);
  LG_EQ_HEX(plain, "01020304", 4);
  lg_key_close(&k);
}

static void test_v15_tts(void) {
  struct lg_key k;
  uint8_t key[16], in[4] = {1, 2, 3, 4}, out[4], mic[4];
  memset(key, 1, sizeof(key));
  LG_EQ_INT(lg_key_init(&k, &crypto, key), 0);
  LG_EQ_INT(lg_payload_crypt(&k, 0x01020304, 1, false, in, 4, out), 0);
  LG_EQ_HEX(out, "CFF30B4E", 4);
  LG_EQ_INT(lg_payload_crypt(&k, 0x01020304, 1, true, in, 4, out), 0);
  LG_EQ_HEX(out, "4E75F440", 4);
  uint8_t msg[13];
  lg_test_hex("40040302010001000101020304", msg, sizeof(msg));
  LG_EQ_INT(lg_data_mic(&k, msg, 13, 0x01020304, 1, false, mic), 0);
  LG_EQ_HEX(mic, "3B073182", 4);
  LG_EQ_INT(lg_data_mic(&k, msg, 13, 0x01020304, 1, true, mic), 0);
  LG_EQ_HEX(mic, "A5609FA9", 4);
  lg_key_close(&k);
}

static void test_v16_rfc4493(void) {
  struct lg_key k;
  uint8_t out[16], msg[16];
  key_from_hex(&k, "2b7e151628aed2a6abf7158809cf4f3c");
  LG_EQ_INT(lg_key_cmac(&k, NULL, 0, NULL, 0, out), 0);
  LG_EQ_HEX(out, "bb1d6929e95937287fa37d129b756746", 16);
  lg_test_hex("6bc1bee22e409f96e93d7e117393172a", msg, sizeof(msg));
  LG_EQ_INT(lg_key_cmac(&k, msg, 16, NULL, 0, out), 0);
  LG_EQ_HEX(out, "070a16b46b4d4144f79bdd9dd04a287c", 16);
  /* Split input must give the same MAC, and reuse must not leak state. */
  LG_EQ_INT(lg_key_cmac(&k, msg, 7, msg + 7, 9, out), 0);
  LG_EQ_HEX(out, "070a16b46b4d4144f79bdd9dd04a287c", 16);
  lg_key_close(&k);
}

static void test_full_fcnt_in_mic(void) {
  /* The MIC covers the 32-bit counter: the same bytes on air with another upper half
   * must not verify (V1 frame, FCnt 2 vs 0x00010002). */
  struct lg_key k;
  uint8_t phy[32], mic[4];
  size_t len = lg_test_hex("40F17DBE4900020001954378762B11FF0D", phy, sizeof(phy));
  key_from_hex(&k, "44024241ed4ce9a68c6a8bc055233fd3");
  LG_EQ_INT(lg_data_mic(&k, phy, len - 4, 0x49be7df1, 0x00010002u, false, mic), 0);
  LG_CHECK(memcmp(mic, phy + len - 4, 4) != 0);
  lg_key_close(&k);
}

int main(void) {
  if (lg_crypto_init(&crypto) != 0) {
    fprintf(stderr, "OpenSSL: AES-128-ECB or CMAC unavailable\n");
    return 1;
  }
  test_v1_v2_v3();
  test_v4_v5_v6_v7();
  test_v8_v14();
  test_chirpstack_frames();
  test_v15_tts();
  test_v16_rfc4493();
  test_full_fcnt_in_mic();
  lg_crypto_close(&crypto);
  return lg_test_report("test_vectors");
}
