/*
 * codec: self-reported positions against published examples — Cayenne LPP's GPS item
 * (the LPP reference's example: channel 1, 42.3519 N, 87.9094 W, 10 m) and the TDOA
 * thesis' 11-byte payload of its figure 3.8 (55 deg 46.93647' N, 12 deg 31.13159' E) —
 * and malformed payloads refused with a reason.
 */
#include "codec/codec.h"
#include "lg_test.h"

static void test_lpp(void) {
  static const uint8_t gps[] = {0x01, 0x88, 0x06, 0x76, 0x5f, 0xf2, 0x96, 0x0a, 0x00, 0x03, 0xe8};
  struct lg_geodetic g;
  char why[128] = "";
  LG_EQ_INT(lg_codec_lpp_gps(gps, sizeof(gps), &g, why, sizeof(why)), 0);
  LG_NEAR(g.lat_deg, 42.3519, 1e-9);
  LG_NEAR(g.lon_deg, -87.9094, 1e-9);
  LG_NEAR(g.alt_m, 10.0, 1e-9);
  /* after a temperature (27.2 C) and a humidity item */
  static const uint8_t mixed[] = {0x03, 0x67, 0x01, 0x10, 0x05, 0x68, 0x50, 0x01,
                                  0x88, 0x06, 0x76, 0x5f, 0xf2, 0x96, 0x0a, 0x00, 0x03, 0xe8};
  LG_EQ_INT(lg_codec_lpp_gps(mixed, sizeof(mixed), &g, why, sizeof(why)), 0);
  LG_NEAR(g.lon_deg, -87.9094, 1e-9);
  static const uint8_t temp_only[] = {0x03, 0x67, 0x01, 0x10};
  LG_EQ_INT(lg_codec_lpp_gps(temp_only, sizeof(temp_only), &g, why, sizeof(why)), LG_ENOTFOUND);
  LG_EQ_INT(lg_codec_lpp_gps(gps, sizeof(gps) - 1, &g, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "needs 9 bytes") != NULL);
  static const uint8_t unknown[] = {0x01, 0x42, 0x00};
  LG_EQ_INT(lg_codec_lpp_gps(unknown, sizeof(unknown), &g, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "unknown type 66") != NULL);
  /* 95 degrees north is no latitude */
  static const uint8_t far[] = {0x01, 0x88, 0x0e, 0x7e, 0xf0, 0, 0, 0, 0, 0, 0};
  LG_EQ_INT(lg_codec_lpp_gps(far, sizeof(far), &g, why, sizeof(why)), LG_EINVAL);
}

static void test_thesis(void) {
  static const uint8_t fig38[] = {0x05, 0x54, 0x69, 0x36, 0x47, 0x10,
                                  0x12, 0x31, 0x13, 0x15, 0x91};
  struct lg_geodetic g;
  char why[128] = "";
  enum lg_position_format f;
  LG_EQ_INT(lg_codec_position(fig38, sizeof(fig38), &g, &f, why, sizeof(why)), 0);
  LG_EQ_INT(f, LG_POS_THESIS);
  LG_NEAR(g.lat_deg, 55 + 46.93647 / 60, 1e-9);
  LG_NEAR(g.lon_deg, 12 + 31.13159 / 60, 1e-9);
  /* south and west */
  uint8_t sw[11];
  memcpy(sw, fig38, sizeof(sw));
  sw[5] = 0x20;
  sw[10] = 0x92;
  LG_EQ_INT(lg_codec_thesis_gps(sw, sizeof(sw), &g, why, sizeof(why)), 0);
  LG_CHECK(g.lat_deg < -55 && g.lon_deg < -12);
  uint8_t bad[11];
  memcpy(bad, fig38, sizeof(bad));
  bad[10] = 0x93; /* hemisphere 3 */
  LG_EQ_INT(lg_codec_thesis_gps(bad, sizeof(bad), &g, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "hemisphere") != NULL);
  bad[10] = 0x91;
  bad[2] = 0x6a; /* minutes 46 -> 6a: not decimal */
  LG_EQ_INT(lg_codec_thesis_gps(bad, sizeof(bad), &g, why, sizeof(why)), LG_EINVAL);
  bad[2] = 0x69;
  bad[1] = 0x56; /* 60.x minutes */
  bad[2] = 0x09;
  LG_EQ_INT(lg_codec_thesis_gps(bad, sizeof(bad), &g, why, sizeof(why)), LG_EINVAL);
  LG_EQ_INT(lg_codec_thesis_gps(fig38, 10, &g, why, sizeof(why)), LG_EINVAL);
  /* an 11-byte LPP GPS item is not mistaken for the thesis' form */
  static const uint8_t lpp[] = {0x01, 0x88, 0x06, 0x76, 0x5f, 0xf2, 0x96, 0x0a, 0x00, 0x03, 0xe8};
  LG_EQ_INT(lg_codec_position(lpp, sizeof(lpp), &g, &f, why, sizeof(why)), 0);
  LG_EQ_INT(f, LG_POS_LPP);
}

int main(void) {
  test_lpp();
  test_thesis();
  return lg_test_report("test_codec");
}
