/*
 * libFuzzer harness for the payload codecs (codec.h): the input's first byte picks
 *   - even: Cayenne LPP — any bytes decode or are refused; whatever decodes encodes back to
 *     a payload that decodes to the same object;
 *   - odd: the rest is JavaScript source for the MuJS sandbox, compiled and its
 *     decodeUplink called (tight budget and cap): anything — syntax errors, throws, loops,
 *     huge allocations — must end as an error result, never a crash or a leak.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lpp(const uint8_t *p, size_t n) {
  json_t *o = NULL, *again = NULL;
  char why[200];
  if (lg_codec_lpp_decode(p, n, &o, why, sizeof(why)) != 0) return;
  uint8_t back[2048];
  size_t m = 0;
  if (lg_codec_lpp_encode(o, back, sizeof(back), &m, why, sizeof(why)) != 0) abort();
  if (lg_codec_lpp_decode(back, m, &again, why, sizeof(why)) != 0 || !json_equal(o, again))
    abort();
  json_decref(o);
  json_decref(again);
}

static void js(const uint8_t *p, size_t n) {
  char why[300];
  struct lg_js *s = lg_js_new((const char *)p, n, 20, 512 * 1024, why, sizeof(why));
  if (s == NULL) return;
  char *out = NULL;
  lg_js_call(s, "decodeUplink", "{\"bytes\":[1,2,3],\"fPort\":1,\"recvTime\":0}", 1, &out, why,
             sizeof(why));
  free(out);
  lg_js_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0)
    lpp(data + 1, size - 1);
  else
    js(data + 1, size - 1);
  return 0;
}
