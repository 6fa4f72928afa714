/*
 * 32-bit frame counters from the 16 bits on air (LoRaWAN 1.0.4 §4.3.1.5: devices keep
 * 32-bit counters and send the low 16 bits; the MIC covers all 32).
 */
#include "lorawan/lorawan.h"

uint32_t lg_fcnt_extend(uint32_t last, uint16_t f_cnt16) {
  uint32_t candidate = (last & 0xffff0000u) | f_cnt16;
  if (candidate < last) candidate += 0x10000u; /* low half rolled over; wraps mod 2^32 */
  return candidate;
}
