/*
 * fleet/shadow — a device's configuration as the operator wants it (desired) and as the
 * device last said it has it (reported), field by field, and the frames that carry it.
 *
 * Fields fall in three groups by who applies them:
 *   server side  adr_algorithm, adr_margin_db, max_dr, min_tx_power_index: the server's ADR
 *                works within them; applied when set (reported at once);
 *   MAC          channel_mask (LinkADRReq, ChMaskCntl 0), rx1_dr_offset + rx2_dr +
 *                rx2_frequency (RXParamSetupReq, set together): reported by the device's
 *                LinkADRAns / RXParamSetupAns;
 *   application  uplink_interval_s and app_params: one downlink on the configured port
 *                (`lg_shadow_app_frame`), reported by the device's uplink on that port in
 *                the same format (`lg_shadow_app_report`).
 *
 * The application frame is a list of items: 0x01 + the interval in seconds (4 bytes,
 * big-endian); 0x02 + a length byte + that many bytes of application parameters. Pure: no
 * storage, no I/O (the server's side is ns/fleet.c).
 */
#ifndef LG_FLEET_SHADOW_H
#define LG_FLEET_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

enum {
  LG_SHADOW_ADR_ALGORITHM = 1u << 0,
  LG_SHADOW_ADR_MARGIN = 1u << 1,
  LG_SHADOW_MAX_DR = 1u << 2,
  LG_SHADOW_MIN_TX_POWER = 1u << 3,
  LG_SHADOW_CHANNEL_MASK = 1u << 4,
  LG_SHADOW_RX_PARAMS = 1u << 5,
  LG_SHADOW_UPLINK_INTERVAL = 1u << 6,
  LG_SHADOW_APP_PARAMS = 1u << 7,
  LG_SHADOW_SERVER = LG_SHADOW_ADR_ALGORITHM | LG_SHADOW_ADR_MARGIN | LG_SHADOW_MAX_DR |
                     LG_SHADOW_MIN_TX_POWER,
  LG_SHADOW_MAC = LG_SHADOW_CHANNEL_MASK | LG_SHADOW_RX_PARAMS,
  LG_SHADOW_APP = LG_SHADOW_UPLINK_INTERVAL | LG_SHADOW_APP_PARAMS,
};

#define LG_SHADOW_APP_PARAMS_MAX 32

struct lg_shadow_cfg {
  unsigned has; /* LG_SHADOW_* given */
  char adr_algorithm[16];
  double adr_margin_db;
  int max_dr, min_tx_power_index;
  uint16_t channel_mask;
  int rx1_dr_offset, rx2_dr;
  uint32_t rx2_freq_hz;
  uint32_t uplink_interval_s;
  uint8_t app_params[LG_SHADOW_APP_PARAMS_MAX];
  size_t app_params_len;
};

/* The field's name in JSON (one bit), or NULL. */
const char *lg_shadow_field_name(unsigned bit);
/* A desired state from JSON (every field optional). LG_EINVAL naming the field. */
int lg_shadow_parse(const struct json_t *o, struct lg_shadow_cfg *c, char *why, size_t why_len);
/* The fields `o` gives over c (null removes one). LG_EINVAL naming the field (c unchanged). */
int lg_shadow_patch(const struct json_t *o, struct lg_shadow_cfg *c, char *why, size_t why_len);
/* New JSON object of the fields c has. */
struct json_t *lg_shadow_json(const struct lg_shadow_cfg *c);
/* The fields desired that reported lacks or holds otherwise. */
unsigned lg_shadow_diff(const struct lg_shadow_cfg *desired, const struct lg_shadow_cfg *reported);
/* Copies the fields src has into dst. */
void lg_shadow_merge(struct lg_shadow_cfg *dst, const struct lg_shadow_cfg *src);
/* The application frame of the `fields` (LG_SHADOW_APP bits) of c: its length (0: none
 * of them, or no room in cap). */
size_t lg_shadow_app_frame(const struct lg_shadow_cfg *c, unsigned fields, uint8_t *out, size_t cap);
/* A device's report on the port into c (its fields set). LG_ETRUNC / LG_EINVAL when
 * malformed. */
int lg_shadow_app_report(const uint8_t *p, size_t len, struct lg_shadow_cfg *c);

#endif
