/*
 * libFuzzer harness for the PHYPayload decoder (and what runs right after it on the
 * packet path: MIC, decryption, MAC command parsing, join-accept parsing).
 *
 * Properties checked besides "no crash, no out-of-bounds" (the sanitizers):
 *   - a frame that decodes re-encodes to exactly the same bytes;
 *   - MAC commands that parse re-encode and parse to the same values.
 */
#include <stdlib.h>
#include <string.h>

#include "lorawan/lorawan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lg_crypto crypto;
static struct lg_key key;
static int ready;

static void setup(void) {
  static const uint8_t k[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  if (lg_crypto_init(&crypto) || lg_key_init(&key, &crypto, k)) abort();
  ready = 1;
}

static void check_mac(const uint8_t *buf, size_t len, bool uplink) {
  struct lg_mac_cmd cmds[LG_PHY_MAX], again[LG_PHY_MAX];
  size_t count = 0, bad = 0, count2 = 0, out_len = 0;
  uint8_t out[2 * LG_PHY_MAX];
  lg_mac_parse(buf, len, uplink, cmds, LG_PHY_MAX, &count, &bad);
  for (size_t i = 0; i < count; i++)
    if (lg_mac_encode(&cmds[i], out, sizeof(out), &out_len) != 0) abort();
  if (lg_mac_parse(out, out_len, uplink, again, LG_PHY_MAX, &count2, &bad) != 0) abort();
  if (count2 != count || memcmp(cmds, again, count * sizeof(cmds[0])) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) setup();
  struct lg_frame f;
  if (lg_frame_decode(data, size, &f) != 0) return 0;

  uint8_t out[LG_PHY_MAX];
  size_t len = 0;
  if (lg_frame_encode(&f, out, sizeof(out), &len) != 0) abort();
  if (len != size || memcmp(out, data, size) != 0) abort();

  uint8_t mic[4], plain[LG_PHY_MAX];
  if (lg_mtype_is_data(f.mtype)) {
    const struct lg_data_frame *d = &f.u.data;
    bool down = !lg_mtype_is_uplink(f.mtype);
    if (lg_data_mic(&key, data, size - 4, d->dev_addr, d->f_cnt16, down, mic)) abort();
    if (lg_payload_crypt(&key, d->dev_addr, d->f_cnt16, down, d->frm_payload, d->frm_payload_len,
                         plain))
      abort();
    check_mac(d->f_opts, d->f_opts_len, !down);
    if (d->has_f_port && d->f_port == 0) check_mac(plain, d->frm_payload_len, !down);
  } else if (f.mtype == LG_MTYPE_JOIN_ACCEPT) {
    struct lg_join_accept ja;
    if (lg_join_accept_decrypt(&key, f.u.join_accept.enc, f.u.join_accept.len, plain)) abort();
    if (lg_join_accept_parse(plain, f.u.join_accept.len, &ja, mic)) abort();
    if (lg_join_accept_write(&ja, out, sizeof(out), &len)) abort();
    if (len + 4 != f.u.join_accept.len || memcmp(out, plain, len) != 0) abort();
  } else if (f.mtype == LG_MTYPE_JOIN_REQUEST) {
    if (lg_join_mic(&key, data, size - 4, mic)) abort();
  }
  return 0;
}
