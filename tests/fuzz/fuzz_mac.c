/*
 * libFuzzer harness for the MAC command parser, both directions. The first input
 * byte picks the direction (bit 0); the rest is a FOpts / FPort-0 payload.
 * Property: whatever parses re-encodes and parses back to identical commands, and the
 * parse never reads past `len` (ASan).
 */
#include <stdlib.h>
#include <string.h>

#include "lorawan/lorawan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  bool uplink = data[0] & 1;
  const uint8_t *buf = data + 1;
  size_t len = size - 1;
  struct lg_mac_cmd cmds[64], again[64];
  size_t count = 0, bad = 0, count2 = 0, out_len = 0;
  int err = lg_mac_parse(buf, len, uplink, cmds, 64, &count, &bad);
  if (err != 0 && bad >= len) abort(); /* an error must point inside the input */
  uint8_t *out = malloc(64 * 6 + 1);
  if (out == NULL) return 0;
  for (size_t i = 0; i < count; i++)
    if (lg_mac_encode(&cmds[i], out, 64 * 6, &out_len) != 0) abort();
  if (lg_mac_parse(out, out_len, uplink, again, 64, &count2, &bad) != 0) abort();
  if (count2 != count || memcmp(cmds, again, count * sizeof(cmds[0])) != 0) abort();
  free(out);
  return 0;
}
