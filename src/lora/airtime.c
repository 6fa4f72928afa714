/*
 * Time on air of a LoRa packet.
 *
 * Semtech AN1200.13 "LoRa Modem Designer's Guide" and SX1276 datasheet §4.1.1.7:
 *   Tsym      = 2^SF / BW
 *   Tpreamble = (Npreamble + 4.25) * Tsym
 *   Npayload  = 8 + max(ceil((8 PL - 4 SF + 28 + 16 CRC - 20 IH) / (4 (SF - 2 DE))) * (CR + 4), 0)
 *   ToA       = Tpreamble + Npayload * Tsym
 * DE (low-data-rate optimisation) is mandated when a symbol lasts longer than 16 ms
 * (SX1276 datasheet §4.1.1.6), i.e. SF11/SF12 at 125 kHz and SF12 at 250 kHz.
 */
#include <math.h>

#include "lora/lora.h"
#include "util/util.h"

struct lg_lora_tx lg_lora_tx_lorawan(int sf, uint32_t bw_hz) {
  struct lg_lora_tx tx = {
      .sf = sf,
      .bw_hz = bw_hz,
      .cr = 1,
      .preamble_symbols = 8,
      .crc = true,
      .implicit_header = false,
      .ldro = LG_LDRO_AUTO,
  };
  return tx;
}

int lg_lora_airtime(const struct lg_lora_tx *tx, size_t payload_len, struct lg_airtime *out) {
  if (tx->sf < 6 || tx->sf > 12 || tx->cr < 1 || tx->cr > 4 || tx->bw_hz == 0 ||
      tx->bw_hz > 1625000 || tx->preamble_symbols < 6 || tx->preamble_symbols > 65535 ||
      payload_len > 255)
    return LG_EINVAL;

  double symbol_s = (double)(1u << tx->sf) / (double)tx->bw_hz;
  bool de;
  switch (tx->ldro) {
  case LG_LDRO_ON: de = true; break;
  case LG_LDRO_OFF: de = false; break;
  default: de = symbol_s > 0.016; break;
  }

  long num = 8L * (long)payload_len - 4L * tx->sf + 28 + (tx->crc ? 16 : 0) -
             (tx->implicit_header ? 20 : 0);
  long den = 4L * (tx->sf - (de ? 2 : 0));
  long blocks = 0;
  if (num > 0) blocks = (num + den - 1) / den; /* ceil for positive num */
  int payload_symbols = 8 + (int)(blocks * (tx->cr + 4));

  double preamble_s = ((double)tx->preamble_symbols + 4.25) * symbol_s;
  double toa_s = preamble_s + payload_symbols * symbol_s;

  out->symbol_ns = llround(symbol_s * 1e9);
  out->preamble_ms = preamble_s * 1e3;
  out->payload_symbols = payload_symbols;
  out->ldro = de;
  out->time_on_air_ms = toa_s * 1e3;
  out->time_on_air_ns = llround(toa_s * 1e9);
  return 0;
}
