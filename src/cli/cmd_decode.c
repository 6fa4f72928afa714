/*
 * `lorageo decode HEX [--nwkskey K] [--appskey K] [--appkey K] [--fcnt-msb N] [--region R]`
 *
 * Decodes one PHYPayload and prints one JSON object (keys in design.md, "decode
 * output keys"). With keys it also verifies the MIC (`mic_ok`) and decrypts (`data`):
 * NwkSKey for the data-frame MIC and FPort 0, AppSKey for FPort > 0, AppKey for
 * join-request MIC and join-accept decryption. The full 32-bit FCnt used in B0 and
 * A_i is (--fcnt-msb << 16) | FCnt-on-air.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lora/lora.h"
#include "lorawan/lorawan.h"
#include "util/util.h"

static const char usage[] =
    "usage: lorageo decode HEX [--nwkskey K] [--appskey K] [--appkey K] [--fcnt-msb N]\n"
    "\n"
    "Decodes a LoRaWAN PHYPayload (hex, MHDR through MIC) and prints one JSON object.\n"
    "  --nwkskey K    NwkSKey (32 hex digits): verifies a data frame's MIC (mic_ok),\n"
    "                 decrypts FPort 0 payloads and lists their MAC commands\n"
    "  --appskey K    AppSKey: decrypts FRMPayload of FPort > 0 into \"data\"\n"
    "  --appkey K     AppKey: verifies a join-request MIC, decrypts a join-accept\n"
    "  --fcnt-msb N   upper 16 bits of the 32-bit frame counter (0..65535, default 0)\n"
    "  --region R     read data rates, TX power and a join-accept's CFList as region R's\n"
    "                 (lorageo region lists them): adds \"region\" and the readings\n"
    "  -h, --help     this text\n";

struct decode_keys {
  bool has_nwk, has_app_s, has_app;
  uint8_t nwk[LG_KEY_LEN], app_s[LG_KEY_LEN], app[LG_KEY_LEN];
  uint32_t fcnt_msb;
};

struct decode_ctx {
  struct lg_crypto crypto;
  struct lg_key nwk, app_s, app;
  char err[160];
};

static json_t *hex_json(const uint8_t *b, size_t n) {
  char buf[2 * LG_PHY_MAX + 1];
  lg_hex_encode(b, n, buf, sizeof(buf));
  return json_string(buf);
}

static json_t *u64_hex_json(uint64_t v, int digits) {
  char buf[17];
  snprintf(buf, sizeof(buf), "%0*llx", digits, (unsigned long long)v);
  return json_string(buf);
}

static int parse_key(const char *arg, uint8_t key[LG_KEY_LEN]) {
  size_t n = 0;
  size_t len = strlen(arg);
  if (len != 2 * LG_KEY_LEN) return LG_EINVAL;
  return lg_hex_decode(arg, len, key, LG_KEY_LEN, &n) == 0 && n == LG_KEY_LEN ? 0 : -1;
}

/* Adds "mac_commands" (and "mac_error" if the list could not be read to the end). */
static void add_mac_commands(json_t *o, const uint8_t *buf, size_t len, bool uplink) {
  struct lg_mac_cmd cmds[LG_PHY_MAX];
  size_t count = 0, bad = 0;
  int err = lg_mac_parse(buf, len, uplink, cmds, LG_ARRAY_LEN(cmds), &count, &bad);
  json_t *arr = json_array();
  for (size_t i = 0; i < count; i++)
    json_array_append_new(arr, lg_cli_mac_json(&cmds[i]));
  json_object_set_new(o, "mac_commands", arr);
  if (err) {
    char msg[96];
    snprintf(msg, sizeof(msg), "%s at byte %zu (CID 0x%02x)", lg_strerror(err), bad, buf[bad]);
    json_object_set_new(o, "mac_error", json_string(msg));
  }
}

static int decode_data(struct decode_ctx *ctx, const struct decode_keys *keys, const uint8_t *phy,
                       size_t len, const struct lg_frame *f, json_t *o) {
  const struct lg_data_frame *d = &f->u.data;
  bool up = lg_mtype_is_uplink(f->mtype);
  uint32_t f_cnt = (keys->fcnt_msb << 16) | d->f_cnt16;

  json_object_set_new(o, "dev_addr", u64_hex_json(d->dev_addr, 8));
  json_object_set_new(o, "f_cnt", json_integer(f_cnt));
  json_t *fctrl = json_object();
  json_object_set_new(fctrl, "adr", json_boolean(d->fctrl & LG_FCTRL_ADR));
  json_object_set_new(fctrl, "adr_ack_req", json_boolean(up && (d->fctrl & LG_FCTRL_ADR_ACK_REQ)));
  json_object_set_new(fctrl, "ack", json_boolean(d->fctrl & LG_FCTRL_ACK));
  json_object_set_new(fctrl, "f_pending", json_boolean(!up && (d->fctrl & LG_FCTRL_FPENDING)));
  if (up) json_object_set_new(fctrl, "class_b", json_boolean(d->fctrl & LG_FCTRL_CLASS_B));
  json_object_set_new(fctrl, "f_opts_len", json_integer(d->f_opts_len));
  json_object_set_new(o, "fctrl", fctrl);
  json_object_set_new(o, "f_opts", hex_json(d->f_opts, d->f_opts_len));
  json_object_set_new(o, "f_port", d->has_f_port ? json_integer(d->f_port) : json_null());
  json_object_set_new(o, "frm_payload", hex_json(d->frm_payload, d->frm_payload_len));
  json_object_set_new(o, "mic", hex_json(f->mic, LG_MIC_LEN));
  if (d->f_opts_len > 0) add_mac_commands(o, d->f_opts, d->f_opts_len, up);

  if (keys->has_nwk) {
    uint8_t mic[LG_MIC_LEN];
    if (lg_data_mic(&ctx->nwk, phy, len - LG_MIC_LEN, d->dev_addr, f_cnt, !up, mic))
      return LG_ECRYPTO;
    json_object_set_new(o, "mic_ok", json_boolean(memcmp(mic, f->mic, LG_MIC_LEN) == 0));
  }
  struct lg_key *key = NULL;
  if (d->has_f_port && d->f_port == 0 && keys->has_nwk) key = &ctx->nwk;
  if (d->has_f_port && d->f_port > 0 && keys->has_app_s) key = &ctx->app_s;
  if (key != NULL) {
    uint8_t plain[LG_PHY_MAX];
    if (lg_payload_crypt(key, d->dev_addr, f_cnt, !up, d->frm_payload, d->frm_payload_len, plain))
      return LG_ECRYPTO;
    json_object_set_new(o, "data", hex_json(plain, d->frm_payload_len));
    if (d->f_port == 0) add_mac_commands(o, plain, d->frm_payload_len, up);
  }
  return 0;
}

static int decode_join_accept(struct decode_ctx *ctx, const struct decode_keys *keys,
                              const struct lg_frame *f, json_t *o) {
  size_t n = f->u.join_accept.len;
  json_object_set_new(o, "encrypted", hex_json(f->u.join_accept.enc, n));
  if (!keys->has_app) return 0;
  uint8_t msg[1 + 32], mic[LG_MIC_LEN], want[LG_MIC_LEN];
  struct lg_join_accept ja;
  msg[0] = f->mhdr;
  if (lg_join_accept_decrypt(&ctx->app, f->u.join_accept.enc, n, msg + 1)) return LG_ECRYPTO;
  if (lg_join_accept_parse(msg + 1, n, &ja, mic)) return LG_EINVAL;
  if (lg_join_mic(&ctx->app, msg, n + 1 - LG_MIC_LEN, want)) return LG_ECRYPTO;
  json_object_set_new(o, "join_nonce", json_integer(ja.join_nonce));
  json_object_set_new(o, "net_id", u64_hex_json(ja.net_id, 6));
  json_object_set_new(o, "dev_addr", u64_hex_json(ja.dev_addr, 8));
  json_object_set_new(o, "dl_settings", json_integer(ja.dl_settings));
  json_object_set_new(o, "rx1_dr_offset", json_integer((ja.dl_settings >> 4) & 0x07));
  json_object_set_new(o, "rx2_dr", json_integer(ja.dl_settings & 0x0f));
  json_object_set_new(o, "opt_neg", json_boolean(ja.dl_settings & 0x80));
  json_object_set_new(o, "rx_delay", json_integer(ja.rx_delay & 0x0f));
  json_object_set_new(o, "cf_list",
                      ja.has_cf_list ? hex_json(ja.cf_list, LG_CFLIST_LEN) : json_null());
  json_object_set_new(o, "mic", hex_json(mic, LG_MIC_LEN));
  /* With OptNeg (1.1) the MIC is keyed with JSIntKey over more fields; the 1.0 rule
   * checked here then reports false. */
  json_object_set_new(o, "mic_ok", json_boolean(memcmp(mic, want, LG_MIC_LEN) == 0));
  return 0;
}

/* Why lg_frame_decode() refused a frame, in words a user can act on. */
static const char *frame_error(const uint8_t *phy, int err) {
  enum lg_mtype m = (enum lg_mtype)(phy[0] >> 5);
  if (err == LG_EMTYPE) return "unsupported LoRaWAN major version";
  if (err != LG_EINVAL) return lg_strerror(err);
  if (m == LG_MTYPE_JOIN_ACCEPT) return "a join-accept has 17 or 33 bytes";
  if (m == LG_MTYPE_REJOIN_REQUEST) return "unknown rejoin type";
  return "FOpts present with FPort 0";
}

static int decode_frame(struct decode_ctx *ctx, const struct decode_keys *keys, const uint8_t *phy,
                        size_t len, json_t *o) {
  struct lg_frame f;
  int err = lg_frame_decode(phy, len, &f);
  if (err) {
    snprintf(ctx->err, sizeof(ctx->err), "invalid PHYPayload (%zu bytes): %s", len,
             frame_error(phy, err));
    return LG_EINVAL;
  }
  json_object_set_new(o, "mtype", json_string(lg_mtype_name(f.mtype)));
  json_object_set_new(o, "major", json_integer(f.major));
  switch (f.mtype) {
  case LG_MTYPE_JOIN_REQUEST: {
    json_object_set_new(o, "join_eui", u64_hex_json(f.u.join_req.join_eui, 16));
    json_object_set_new(o, "dev_eui", u64_hex_json(f.u.join_req.dev_eui, 16));
    json_object_set_new(o, "dev_nonce", json_integer(f.u.join_req.dev_nonce));
    json_object_set_new(o, "mic", hex_json(f.mic, LG_MIC_LEN));
    if (keys->has_app) {
      uint8_t mic[LG_MIC_LEN];
      if (lg_join_mic(&ctx->app, phy, len - LG_MIC_LEN, mic)) return LG_ECRYPTO;
      json_object_set_new(o, "mic_ok", json_boolean(memcmp(mic, f.mic, LG_MIC_LEN) == 0));
    }
    return 0;
  }
  case LG_MTYPE_JOIN_ACCEPT: return decode_join_accept(ctx, keys, &f, o);
  case LG_MTYPE_REJOIN_REQUEST:
    json_object_set_new(o, "rejoin_type", json_integer(f.u.rejoin.rejoin_type));
    if (f.u.rejoin.rejoin_type == 1)
      json_object_set_new(o, "join_eui", u64_hex_json(f.u.rejoin.join_eui, 16));
    else
      json_object_set_new(o, "net_id", u64_hex_json(f.u.rejoin.net_id, 6));
    json_object_set_new(o, "dev_eui", u64_hex_json(f.u.rejoin.dev_eui, 16));
    json_object_set_new(o, "rj_count", json_integer(f.u.rejoin.rj_count));
    json_object_set_new(o, "mic", hex_json(f.mic, LG_MIC_LEN));
    return 0;
  case LG_MTYPE_PROPRIETARY:
    json_object_set_new(o, "payload", hex_json(f.u.proprietary.bytes, f.u.proprietary.len));
    return 0;
  default: return decode_data(ctx, keys, phy, len, &f, o);
  }
}

static int setup_keys(struct decode_ctx *ctx, const struct decode_keys *keys) {
  if (lg_crypto_init(&ctx->crypto)) return LG_ECRYPTO;
  if (keys->has_nwk && lg_key_init(&ctx->nwk, &ctx->crypto, keys->nwk)) return LG_ECRYPTO;
  if (keys->has_app_s && lg_key_init(&ctx->app_s, &ctx->crypto, keys->app_s)) return LG_ECRYPTO;
  if (keys->has_app && lg_key_init(&ctx->app, &ctx->crypto, keys->app)) return LG_ECRYPTO;
  return 0;
}

static void close_keys(struct decode_ctx *ctx) {
  lg_key_close(&ctx->nwk);
  lg_key_close(&ctx->app_s);
  lg_key_close(&ctx->app);
  lg_crypto_close(&ctx->crypto);
}

/* A data rate of `r` in words: {"modulation", "sf", "bw_khz"}, or null if undefined. */
static json_t *dr_json(const struct lg_region *r, int dr) {
  const struct lg_datarate *d = lg_region_dr(r, dr);
  if (d == NULL) return json_null();
  const char *m = d->mod == LG_MOD_LORA ? "LORA" : d->mod == LG_MOD_FSK ? "FSK" : "LR-FHSS";
  json_t *o = json_pack("{s:s}", "modulation", m);
  if (d->mod == LG_MOD_LORA) {
    json_object_set_new(o, "sf", json_integer(d->sf));
    json_object_set_new(o, "bw_khz", json_integer(d->bw_hz / 1000));
  }
  return o;
}

/* --region: what the region makes of the decoded fields (LinkADRReq's DR and TXPower, a
 * join-accept's RX2 DR and CFList). */
static void annotate_region(json_t *o, const struct lg_region *r) {
  json_object_set_new(o, "region", json_string(r->name));
  json_t *cmds = json_object_get(o, "mac_commands");
  size_t i;
  json_t *c;
  json_array_foreach(cmds, i, c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    if (name == NULL || strcmp(name, "LinkADRReq") != 0) continue;
    int eirp = 0;
    json_object_set_new(c, "data_rate",
                        dr_json(r, (int)json_integer_value(json_object_get(c, "dr"))));
    json_object_set_new(c, "tx_power_eirp_dbm",
                        lg_region_tx_power_dbm(
                            r, (int)json_integer_value(json_object_get(c, "tx_power")), &eirp) == 0
                            ? json_integer(eirp)
                            : json_null());
  }
  if (json_object_get(o, "rx2_dr"))
    json_object_set_new(o, "rx2_data_rate",
                        dr_json(r, (int)json_integer_value(json_object_get(o, "rx2_dr"))));
  const char *cf = json_string_value(json_object_get(o, "cf_list"));
  if (cf && strlen(cf) == 2 * LG_CFLIST_LEN) {
    uint8_t b[LG_CFLIST_LEN];
    size_t n = 0;
    if (lg_hex_decode(cf, strlen(cf), b, sizeof(b), &n) || n != LG_CFLIST_LEN) return;
    json_object_set_new(o, "cf_list_type",
                        json_string(b[15] == 0   ? "frequencies"
                                    : b[15] == 1 ? "channel_mask"
                                                 : "rfu"));
    json_object_set_new(
        o, "cf_list_type_expected",
        json_string(r->cflist_type == LG_CFLIST_CHANNEL_MASK ? "channel_mask" : "frequencies"));
    if (b[15] == 0) { /* five 24-bit little-endian frequencies in 100 Hz (TS001 §6.2.4.1) */
      json_t *f = json_array();
      for (int k = 0; k < 5; k++)
        json_array_append_new(
            f, json_integer(100LL * (b[3 * k] | b[3 * k + 1] << 8 | b[3 * k + 2] << 16)));
      json_object_set_new(o, "cf_list_frequencies_hz", f);
    } else if (b[15] == 1) { /* ChMask0..4, 16 bits little-endian each */
      json_t *m = json_array();
      for (int k = 0; k < 5; k++)
        json_array_append_new(m, json_integer(b[2 * k] | b[2 * k + 1] << 8));
      json_object_set_new(o, "cf_list_ch_masks", m);
    }
  }
}

int lg_cmd_decode(int argc, char **argv) {
  static const struct option opts[] = {
      {"nwkskey", required_argument, NULL, 'n'},
      {"appskey", required_argument, NULL, 's'},
      {"appkey", required_argument, NULL, 'a'},
      {"fcnt-msb", required_argument, NULL, 'm'},
      {"region", required_argument, NULL, 'g'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct decode_keys keys = {0};
  const struct lg_region *region = NULL;
  long msb = 0;
  int c;
  optind = 1;
  opterr = 0; /* we report bad options ourselves, on one line */
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 'n':
      if (parse_key(optarg, keys.nwk))
        return lg_cli_fail("decode", 2, "--nwkskey: expected 32 hex digits");
      keys.has_nwk = true;
      break;
    case 's':
      if (parse_key(optarg, keys.app_s))
        return lg_cli_fail("decode", 2, "--appskey: expected 32 hex digits");
      keys.has_app_s = true;
      break;
    case 'a':
      if (parse_key(optarg, keys.app))
        return lg_cli_fail("decode", 2, "--appkey: expected 32 hex digits");
      keys.has_app = true;
      break;
    case 'm':
      if (lg_cli_parse_long(optarg, 0, 0xffff, &msb))
        return lg_cli_fail("decode", 2, "--fcnt-msb: expected an integer 0..65535, got '%s'",
                           optarg);
      break;
    case 'g':
      if ((region = lg_region_find(optarg)) == NULL) {
        char names[256];
        return lg_cli_fail("decode", 2, "--region: unknown region '%s': expected one of %s", optarg,
                           lg_region_names(names, sizeof(names)));
      }
      break;
    default: return lg_cli_bad_option("decode", c, argv);
    }
  }
  if (optind != argc - 1)
    return lg_cli_fail("decode", 2, "expected exactly one HEX PHYPayload (see --help)");
  keys.fcnt_msb = (uint32_t)msb;

  const char *hex = argv[optind];
  uint8_t phy[LG_PHY_MAX];
  size_t len = 0;
  size_t hex_len = strlen(hex);
  int err = lg_hex_decode(hex, hex_len, phy, sizeof(phy), &len);
  if (err == LG_ETOOLONG)
    return lg_cli_fail("decode", 1, "PHYPayload too long: %zu bytes, at most %d", hex_len / 2,
                       LG_PHY_MAX);
  if (err)
    return lg_cli_fail("decode", 1, "PHYPayload is not hex (%s)",
                       hex_len % 2 ? "odd number of digits" : "non-hex character");

  struct decode_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  json_t *o = json_object();
  int rc = 0;
  if (setup_keys(&ctx, &keys)) {
    rc = lg_cli_fail("decode", 1, "crypto library failure");
  } else if (decode_frame(&ctx, &keys, phy, len, o)) {
    rc = lg_cli_fail("decode", 1, "%s", ctx.err[0] ? ctx.err : "crypto library failure");
  }
  close_keys(&ctx);
  if (rc) {
    json_decref(o);
    return rc;
  }
  if (region) annotate_region(o, region);
  return lg_cli_print_json(stdout, o) ? lg_cli_fail("decode", 1, "cannot write output") : 0;
}
