/*
 * Semtech UDP datagrams: header, ACKs, TX_ACK, PULL_RESP. Everything a gateway sends is
 * untrusted: lengths are checked before every read and a bad datagram is refused with a
 * reason, never half-used.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "gw/gw.h"
#include "util/util.h"

int lg_gw_parse_header(const uint8_t *buf, size_t len, struct lg_gw_header *h) {
  memset(h, 0, sizeof(*h));
  if (len < 4) return LG_GW_ESHORT;
  h->version = buf[0];
  h->token = (uint16_t)((buf[1] << 8) | buf[2]);
  h->type = (enum lg_gw_type)buf[3];
  if (h->version != 1 && h->version != 2) return LG_GW_EVERSION;
  if (h->type != LG_GW_PUSH_DATA && h->type != LG_GW_PULL_DATA && h->type != LG_GW_TX_ACK)
    return LG_GW_ETYPE;
  if (len < 12) return LG_GW_ESHORT;
  for (int i = 0; i < 8; i++)
    h->gateway_eui = (h->gateway_eui << 8) | buf[4 + i];
  if (h->gateway_eui == 0) return LG_GW_EEUI;
  h->body_off = 12;
  return 0;
}

const char *lg_gw_strerror(int err) {
  switch (err) {
  case LG_GW_ESHORT: return "short";
  case LG_GW_EVERSION: return "version";
  case LG_GW_ETYPE: return "type";
  case LG_GW_EEUI: return "zero_eui";
  case LG_GW_EJSON: return "json";
  default: return lg_strerror(err);
  }
}

void lg_gw_build_ack(const struct lg_gw_header *h, uint8_t out[4]) {
  out[0] = h->version;
  out[1] = (uint8_t)(h->token >> 8);
  out[2] = (uint8_t)h->token;
  out[3] = h->type == LG_GW_PULL_DATA ? LG_GW_PULL_ACK : LG_GW_PUSH_ACK;
}

int lg_gw_parse_txack(const char *json, size_t len, char *err, size_t err_len) {
  snprintf(err, err_len, "NONE");
  size_t skip = 0;
  while (skip < len && (json[skip] == ' ' || json[skip] == '\n' || json[skip] == '\0'))
    skip++;
  if (skip == len) return 0; /* empty body: success (protocol v2) */
  json_error_t e;
  json_t *root = json_loadb(json, len, 0, &e);
  if (!json_is_object(root)) {
    json_decref(root);
    return LG_GW_EJSON;
  }
  json_t *ack = json_object_get(root, "txpk_ack");
  json_t *error = json_is_object(ack) ? json_object_get(ack, "error") : NULL;
  if (json_is_string(error)) snprintf(err, err_len, "%s", json_string_value(error));
  json_decref(root);
  return 0;
}

int lg_gw_build_pull_resp(uint8_t version, uint16_t token, const struct lg_gw_txpk *tx,
                          uint8_t *out, size_t cap) {
  if (tx->size > 255 || cap < 4 || (version != 1 && version != 2)) return LG_EINVAL;
  char b64[4 * ((255 + 2) / 3) + 1];
  EVP_EncodeBlock((unsigned char *)b64, tx->data, (int)tx->size);
  char timing[48];
  if (tx->immediate)
    snprintf(timing, sizeof(timing), "\"imme\":true");
  else if (tx->has_tmst)
    snprintf(timing, sizeof(timing), "\"tmst\":%u", tx->tmst);
  else
    return LG_EINVAL;
  out[0] = version;
  out[1] = (uint8_t)(token >> 8);
  out[2] = (uint8_t)token;
  out[3] = LG_GW_PULL_RESP;
  int n =
      snprintf((char *)out + 4, cap - 4,
               "{\"txpk\":{%s,\"freq\":%u.%06u,\"rfch\":%d,\"powe\":%d,\"modu\":\"LORA\","
               "\"datr\":\"SF%dBW%u\",\"codr\":\"%s\",\"ipol\":%s,\"size\":%zu,\"data\":\"%s\"}}",
               timing, tx->freq_hz / 1000000, tx->freq_hz % 1000000, tx->rfch, tx->power_dbm,
               tx->sf, tx->bw_hz / 1000, tx->codr, tx->ipol ? "true" : "false", tx->size, b64);
  if (n < 0 || (size_t)n >= cap - 4) return LG_ENOSPC;
  return n + 4;
}
