/*
 * AES-128 and AES-CMAC through OpenSSL 3, plus the LoRaWAN constructions built on
 * them (MIC blocks, keystream, join-accept, key derivation).
 *
 * Cost model: EVP_*_fetch and context creation are expensive (allocations, provider
 * lookups), so they happen once per lg_crypto and once per lg_key. Per message we only
 * re-initialise the CMAC context with its own key (EVP_MAC_init with a NULL key resets
 * the state and keeps the expanded key) and run ECB blocks on a ready context.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <string.h>

#include "lorawan/lorawan.h"
#include "util/util.h"

int lg_crypto_init(struct lg_crypto *c) {
  c->aes_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
  c->cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
  if (c->aes_ecb == NULL || c->cmac == NULL) {
    lg_crypto_close(c);
    return LG_ECRYPTO;
  }
  return 0;
}

void lg_crypto_close(struct lg_crypto *c) {
  EVP_CIPHER_free(c->aes_ecb);
  EVP_MAC_free(c->cmac);
  c->aes_ecb = NULL;
  c->cmac = NULL;
}

int lg_key_init(struct lg_key *k, const struct lg_crypto *c, const uint8_t bytes[LG_KEY_LEN]) {
  memset(k, 0, sizeof(*k));
  memcpy(k->bytes, bytes, LG_KEY_LEN);
  k->enc = EVP_CIPHER_CTX_new();
  k->dec = EVP_CIPHER_CTX_new();
  k->mac = EVP_MAC_CTX_new(c->cmac);
  if (k->enc == NULL || k->dec == NULL || k->mac == NULL) goto fail;
  if (!EVP_EncryptInit_ex2(k->enc, c->aes_ecb, bytes, NULL, NULL)) goto fail;
  if (!EVP_DecryptInit_ex2(k->dec, c->aes_ecb, bytes, NULL, NULL)) goto fail;
  EVP_CIPHER_CTX_set_padding(k->enc, 0);
  EVP_CIPHER_CTX_set_padding(k->dec, 0);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-CBC", 0),
      OSSL_PARAM_construct_end(),
  };
  if (!EVP_MAC_init(k->mac, bytes, LG_KEY_LEN, params)) goto fail;
  return 0;
fail:
  lg_key_close(k);
  return LG_ECRYPTO;
}

void lg_key_close(struct lg_key *k) {
  EVP_CIPHER_CTX_free(k->enc);
  EVP_CIPHER_CTX_free(k->dec);
  EVP_MAC_CTX_free(k->mac);
  memset(k, 0, sizeof(*k)); /* also wipes the key bytes */
}

int lg_key_cmac(struct lg_key *k, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                uint8_t out[16]) {
  size_t out_len = 0;
  if (!EVP_MAC_init(k->mac, NULL, 0, NULL)) return LG_ECRYPTO;
  if (a_len > 0 && !EVP_MAC_update(k->mac, a, a_len)) return LG_ECRYPTO;
  if (b_len > 0 && !EVP_MAC_update(k->mac, b, b_len)) return LG_ECRYPTO;
  if (!EVP_MAC_final(k->mac, out, &out_len, 16) || out_len != 16) return LG_ECRYPTO;
  return 0;
}

static int ecb(struct evp_cipher_ctx_st *ctx, const uint8_t *in, size_t len, uint8_t *out) {
  int out_len = 0;
  if (len % 16 != 0 || len > 4096) return LG_EINVAL;
  if (len == 0) return 0;
  if (!EVP_CipherUpdate(ctx, out, &out_len, in, (int)len) || (size_t)out_len != len)
    return LG_ECRYPTO;
  return 0;
}

int lg_key_encrypt(struct lg_key *k, const uint8_t *in, size_t len, uint8_t *out) {
  return ecb(k->enc, in, len, out);
}

int lg_key_decrypt(struct lg_key *k, const uint8_t *in, size_t len, uint8_t *out) {
  return ecb(k->dec, in, len, out);
}

/* B0 / A_i block (1.0.4 §4.3.3.1, §4.4): tag | 00 00 00 00 | dir | DevAddr | FCnt32 | 00 | last */
static void data_block(uint8_t blk[16], uint8_t tag, bool downlink, uint32_t dev_addr,
                       uint32_t f_cnt, uint8_t last) {
  memset(blk, 0, 16);
  blk[0] = tag;
  blk[5] = downlink ? 1 : 0;
  lg_put_le32(blk + 6, dev_addr);
  lg_put_le32(blk + 10, f_cnt);
  blk[15] = last;
}

int lg_data_mic(struct lg_key *nwk_s_key, const uint8_t *msg, size_t msg_len, uint32_t dev_addr,
                uint32_t f_cnt, bool downlink, uint8_t mic[LG_MIC_LEN]) {
  uint8_t b0[16], full[16];
  if (msg_len > LG_PHY_MAX) return LG_EINVAL;
  data_block(b0, 0x49, downlink, dev_addr, f_cnt, (uint8_t)msg_len);
  int err = lg_key_cmac(nwk_s_key, b0, sizeof(b0), msg, msg_len, full);
  if (err) return err;
  memcpy(mic, full, LG_MIC_LEN);
  return 0;
}

/* XORs `in` with the keystream AES(key, A_1) ‖ AES(key, A_2) ‖ ... where A_i only
 * differs from A_1 in its last byte; `a1` is A_1 with its last byte 0. */
static int keystream_xor(struct lg_key *key, uint8_t a1[16], const uint8_t *in, size_t len,
                         uint8_t *out) {
  uint8_t blocks[LG_PHY_MAX + 16];
  size_t n = (len + 15) / 16;
  if (len > LG_PHY_MAX) return LG_EINVAL;
  for (size_t i = 0; i < n; i++) {
    memcpy(blocks + 16 * i, a1, 16);
    blocks[16 * i + 15] = (uint8_t)(i + 1);
  }
  int err = lg_key_encrypt(key, blocks, 16 * n, blocks);
  if (err) return err;
  for (size_t i = 0; i < len; i++)
    out[i] = in[i] ^ blocks[i];
  return 0;
}

int lg_payload_crypt(struct lg_key *key, uint32_t dev_addr, uint32_t f_cnt, bool downlink,
                     const uint8_t *in, size_t len, uint8_t *out) {
  uint8_t a[16];
  data_block(a, 0x01, downlink, dev_addr, f_cnt, 0);
  return keystream_xor(key, a, in, len, out);
}

int lg_fopts_crypt_11(struct lg_key *nwk_s_enc_key, uint32_t dev_addr, uint32_t f_cnt,
                      bool downlink, bool a_fcnt_down, const uint8_t *in, size_t len,
                      uint8_t *out) {
  uint8_t a[16];
  if (len > LG_FOPTS_MAX) return LG_EINVAL;
  data_block(a, 0x01, downlink, dev_addr, f_cnt, 0);
  a[4] = a_fcnt_down ? 0x02 : 0x01;
  return keystream_xor(nwk_s_enc_key, a, in, len, out);
}

int lg_join_mic(struct lg_key *app_key, const uint8_t *msg, size_t msg_len,
                uint8_t mic[LG_MIC_LEN]) {
  uint8_t full[16];
  int err = lg_key_cmac(app_key, msg, msg_len, NULL, 0, full);
  if (err) return err;
  memcpy(mic, full, LG_MIC_LEN);
  return 0;
}

int lg_join_accept_encrypt(struct lg_key *app_key, const uint8_t *plain, size_t len, uint8_t *enc) {
  if (len != 16 && len != 32) return LG_EINVAL;
  return lg_key_decrypt(app_key, plain, len, enc);
}

int lg_join_accept_decrypt(struct lg_key *app_key, const uint8_t *enc, size_t len, uint8_t *plain) {
  if (len != 16 && len != 32) return LG_EINVAL;
  return lg_key_encrypt(app_key, enc, len, plain);
}

int lg_derive_session_keys_10(struct lg_key *app_key, uint32_t join_nonce, uint32_t net_id,
                              uint16_t dev_nonce, uint8_t nwk_s_key[LG_KEY_LEN],
                              uint8_t app_s_key[LG_KEY_LEN]) {
  uint8_t blk[32] = {0};
  blk[0] = 0x01;
  lg_put_le24(blk + 1, join_nonce);
  lg_put_le24(blk + 4, net_id);
  lg_put_le16(blk + 7, dev_nonce);
  memcpy(blk + 16, blk, 16);
  blk[16] = 0x02;
  int err = lg_key_encrypt(app_key, blk, sizeof(blk), blk);
  if (err) return err;
  memcpy(nwk_s_key, blk, LG_KEY_LEN);
  memcpy(app_s_key, blk + 16, LG_KEY_LEN);
  return 0;
}

int lg_derive_js_keys_11(struct lg_key *nwk_key, uint64_t dev_eui, uint8_t js_int_key[LG_KEY_LEN],
                         uint8_t js_enc_key[LG_KEY_LEN]) {
  uint8_t blk[32] = {0};
  blk[0] = 0x06; /* JSIntKey */
  lg_put_le64(blk + 1, dev_eui);
  memcpy(blk + 16, blk, 16);
  blk[16] = 0x05; /* JSEncKey */
  int err = lg_key_encrypt(nwk_key, blk, sizeof(blk), blk);
  if (err) return err;
  memcpy(js_int_key, blk, LG_KEY_LEN);
  memcpy(js_enc_key, blk + 16, LG_KEY_LEN);
  return 0;
}

int lg_join_accept_mic_11(struct lg_key *js_int_key, uint8_t join_req_type, uint64_t join_eui,
                          uint16_t dev_nonce, const uint8_t *msg, size_t msg_len,
                          uint8_t mic[LG_MIC_LEN]) {
  uint8_t head[11], full[16];
  head[0] = join_req_type;
  lg_put_le64(head + 1, join_eui);
  lg_put_le16(head + 9, dev_nonce);
  int err = lg_key_cmac(js_int_key, head, sizeof(head), msg, msg_len, full);
  if (err) return err;
  memcpy(mic, full, LG_MIC_LEN);
  return 0;
}
