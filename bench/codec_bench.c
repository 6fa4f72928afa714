/*
 * Codec benchmark: how many LoRaWAN uplinks one core can take apart.
 *
 * Prints, for 20-byte application payloads (33-byte PHYPayloads):
 *   - MIC verifications per second (B0 + CMAC over the frame, compare),
 *   - full frames per second: decode + MIC verify + FRMPayload decrypt,
 *   - AES-CMAC per second of the raw primitive, for reference.
 * Frames are generated from a fixed seed so every run does the same work; the number
 * of iterations can be given as argv[1] (default 2,000,000).
 * Target (issue 2): >= 2,000,000 MIC verifications/s on one core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lorawan/lorawan.h"
#include "util/util.h"

#define NFRAMES 1024

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t xorshift(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

struct sample {
  uint8_t phy[64];
  size_t len;
  uint8_t plain[20];
};

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 2000000;
  if (iters <= 0) iters = 2000000;
  struct lg_crypto crypto;
  struct lg_key nwk, app;
  uint8_t kb[16];
  uint32_t seed = 0x1234567u;
  if (lg_crypto_init(&crypto)) return 1;
  for (int i = 0; i < 16; i++)
    kb[i] = (uint8_t)xorshift(&seed);
  lg_key_init(&nwk, &crypto, kb);
  for (int i = 0; i < 16; i++)
    kb[i] = (uint8_t)xorshift(&seed);
  lg_key_init(&app, &crypto, kb);

  static struct sample frames[NFRAMES];
  for (int i = 0; i < NFRAMES; i++) {
    struct lg_frame f;
    memset(&f, 0, sizeof(f));
    f.mtype = LG_MTYPE_UNCONFIRMED_UP;
    f.u.data.dev_addr = 0x26011234;
    f.u.data.f_cnt16 = (uint16_t)i;
    f.u.data.has_f_port = true;
    f.u.data.f_port = 1;
    f.u.data.frm_payload_len = 20;
    for (int j = 0; j < 20; j++)
      frames[i].plain[j] = (uint8_t)xorshift(&seed);
    lg_payload_crypt(&app, 0x26011234, (uint32_t)i, false, frames[i].plain, 20,
                     f.u.data.frm_payload);
    lg_frame_encode(&f, frames[i].phy, sizeof(frames[i].phy), &frames[i].len);
    lg_data_mic(&nwk, frames[i].phy, frames[i].len - 4, 0x26011234, (uint32_t)i, false,
                frames[i].phy + frames[i].len - 4);
  }

  /* 1. MIC verifications. */
  long ok = 0;
  double t0 = now_s();
  for (long n = 0; n < iters; n++) {
    const struct sample *s = &frames[n % NFRAMES];
    uint8_t mic[4];
    lg_data_mic(&nwk, s->phy, s->len - 4, 0x26011234, (uint32_t)(n % NFRAMES), false, mic);
    ok += memcmp(mic, s->phy + s->len - 4, 4) == 0;
  }
  double t_mic = now_s() - t0;

  /* 2. Decode + MIC verify + decrypt. */
  long ok2 = 0;
  t0 = now_s();
  for (long n = 0; n < iters; n++) {
    const struct sample *s = &frames[n % NFRAMES];
    struct lg_frame f;
    uint8_t mic[4], plain[LG_PHY_MAX];
    if (lg_frame_decode(s->phy, s->len, &f)) continue;
    uint32_t fcnt = lg_fcnt_extend(0, f.u.data.f_cnt16);
    lg_data_mic(&nwk, s->phy, s->len - 4, f.u.data.dev_addr, fcnt, false, mic);
    if (memcmp(mic, f.mic, 4) != 0) continue;
    lg_payload_crypt(&app, f.u.data.dev_addr, fcnt, false, f.u.data.frm_payload,
                     f.u.data.frm_payload_len, plain);
    ok2 += memcmp(plain, s->plain, sizeof(s->plain)) == 0;
  }
  double t_full = now_s() - t0;

  /* 3. Raw CMAC of 16 + 33 bytes. */
  t0 = now_s();
  uint8_t out[16];
  for (long n = 0; n < iters; n++)
    lg_key_cmac(&nwk, frames[0].phy, 16, frames[n % NFRAMES].phy, 29, out);
  double t_cmac = now_s() - t0;

  if (ok != iters || ok2 != iters) {
    fprintf(stderr, "codec_bench: %ld/%ld MICs verified, %ld/%ld frames decoded\n", ok, iters, ok2,
            iters);
    return 1;
  }
  printf("codec_bench: %ld iterations, 33-byte uplinks (20-byte payload), one core\n", iters);
  printf("mic_verify_per_s %.0f\n", (double)iters / t_mic);
  printf("frames_per_s %.0f   (decode + MIC verify + decrypt)\n", (double)iters / t_full);
  printf("cmac_per_s %.0f\n", (double)iters / t_cmac);
  printf("ns_per_mic %.1f  ns_per_frame %.1f\n", t_mic / (double)iters * 1e9,
         t_full / (double)iters * 1e9);
  lg_key_close(&nwk);
  lg_key_close(&app);
  lg_crypto_close(&crypto);
  return 0;
}
