/* A downlink queue item as POST /api/devices/{dev_eui}/queue and MQTT command/down take it. */
#include <stdio.h>

#include "ns/ns.h"
#include "util/util.h"

int lg_queue_item_parse(const json_t *b, struct lg_queue_item *q, char *why, size_t why_len) {
  const json_t *port = json_object_get(b, "f_port"), *data = json_object_get(b, "data"),
               *conf = json_object_get(b, "confirmed");
  if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 223) {
    snprintf(why, why_len, "f_port: expected 1..223");
    return LG_EINVAL;
  }
  if (conf && !json_is_boolean(conf)) {
    snprintf(why, why_len, "confirmed: expected true or false");
    return LG_EINVAL;
  }
  if (!json_is_string(data) || lg_base64_decode(json_string_value(data), json_string_length(data),
                                                q->data, sizeof(q->data), &q->len)) {
    snprintf(why, why_len, "data: expected base64 of at most %zu bytes", sizeof(q->data));
    return LG_EINVAL;
  }
  q->f_port = (int)json_integer_value(port);
  q->confirmed = conf && json_is_true(conf);
  return 0;
}
