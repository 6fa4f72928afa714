/*
 * Events of a device, and the end of confirmed downlinks that are never acknowledged.
 *
 * A confirmed downlink waits for the ACK bit in one of the device's next uplinks. As in
 * ChirpStack and The Things Stack, the next uplink without it says the device did not get
 * the downlink: after [network] ack_uplinks such uplinks (1 by default) the downlink is
 * `nacked`, and a `nack` event says so (MQTT .../event/nack, the events list). A device
 * that sends nothing more cannot say either: past [network] ack_timeout_s the downlink is
 * nacked too (checked once a second, by a read that writes only when one is due, so the
 * packet thread does not wait for the storage thread's batch).
 */
#include <jansson.h>
#include <stdlib.h>

#include "ns/ns_int.h"
#include "util/util.h"

enum { NACKS_MAX = 64 };

void ns_device_event(struct lg_ns *ns, uint64_t dev_eui, const char *type, json_t *payload) {
  if (payload == NULL) return;
  if (ns->writer) { /* written and published after its batch's commit, in order */
    ns_write_event(ns, ns->cur_ticket, dev_eui, type, payload);
    return;
  }
  if (ns->io.on_event) ns_event(ns, dev_eui, type, json_incref(payload));
  if (lg_store_event_add(ns->store, dev_eui, type, payload, ns_now(ns)) != 0)
    ns_store_error(ns, "recording an event");
}

int ns_downlink_event(struct lg_ns *ns, uint64_t dev_eui, const struct ns_down_info *in, bool ack,
                      size_t mac_bytes, const char *cls) {
  if (ns->replaying) return 0; /* recorded when it was sent */
  json_t *p = json_pack("{s:I, s:o, s:I, s:b, s:b, s:I, s:s}", "f_cnt", (json_int_t)in->f_cnt,
                        "f_port", in->f_port >= 0 ? json_integer(in->f_port) : json_null(),
                        "bytes", (json_int_t)(in->f_port >= 0 ? in->len : 0), "confirmed",
                        in->confirmed, "ack", ack, "mac_bytes", (json_int_t)mac_bytes, "class", cls);
  if (p == NULL) return LG_ENOMEM;
  return lg_store_event_add(ns->store, dev_eui, "downlink", p, ns_now(ns));
}

static void nacked(struct lg_ns *ns, const struct lg_store_nack *x, size_t n, const char *why) {
  for (size_t i = 0; i < n; i++) {
    ns_log(ns, "%016llx did not acknowledge confirmed downlink FCnt %u (%s)",
           (unsigned long long)x[i].dev_eui, x[i].f_cnt, why);
    ns_device_event(ns, x[i].dev_eui, "nack",
                    json_pack("{s:I, s:b, s:s}", "f_cnt_down", (json_int_t)x[i].f_cnt,
                              "acknowledged", 0, "reason", why));
  }
}

void ns_nack_awaiting(struct lg_ns *ns, uint64_t dev_eui, bool sent) {
  struct ns_awaiting *a;
  HASH_FIND(hh, ns->awaiting, &dev_eui, sizeof(dev_eui), a);
  if (sent && a == NULL && (a = calloc(1, sizeof(*a))) != NULL) {
    a->dev_eui = dev_eui;
    HASH_ADD(hh, ns->awaiting, dev_eui, sizeof(a->dev_eui), a);
  } else if (!sent && a) {
    HASH_DEL(ns->awaiting, a);
    free(a);
  }
}

void ns_nack_free(struct lg_ns *ns) {
  struct ns_awaiting *a, *t;
  HASH_ITER(hh, ns->awaiting, a, t) {
    HASH_DEL(ns->awaiting, a);
    free(a);
  }
}

/* Only for a device this process sent a confirmed downlink to: the uplinks of the others
 * cost no write (after a restart, the timeout ends what was awaited before). */
void ns_nack_uplink(struct lg_ns *ns, uint64_t dev_eui) {
  struct lg_store_nack x[NACKS_MAX];
  size_t n = 0;
  struct ns_awaiting *a;
  HASH_FIND(hh, ns->awaiting, &dev_eui, sizeof(dev_eui), a);
  if (a == NULL) return;
  if (lg_store_downlink_unacked_uplink(ns->store, dev_eui, ns->cfg.ack_uplinks, ns_now(ns), x,
                                       NACKS_MAX, &n) != 0) {
    ns_store_error(ns, "counting an uplink without ACK");
    return;
  }
  if (n) ns_nack_awaiting(ns, dev_eui, false); /* (another may still wait: it is nacked too) */
  nacked(ns, x, n, "uplinks came without ACK");
}

void ns_nack_tick(struct lg_ns *ns, int64_t now_ns) {
  if (ns->cfg.ack_timeout_s <= 0 || now_ns - ns->nacks_checked_ns < 1000000000LL) return;
  ns->nacks_checked_ns = now_ns;
  struct lg_store_nack x[NACKS_MAX];
  size_t n = 0;
  /* downlinks are stamped with the server's clock (ns_now) */
  if (lg_store_downlinks_expire(ns->store, now_ns - (int64_t)ns->cfg.ack_timeout_s * 1000000000LL,
                                now_ns, x, NACKS_MAX, &n) != 0) {
    ns_store_error(ns, "ending unacknowledged downlinks");
    return;
  }
  uint64_t ticket = ns->cur_ticket;
  ns->cur_ticket = 0; /* no uplink of this tick's */
  nacked(ns, x, n, "no ACK within [network] ack_timeout_s");
  ns->cur_ticket = ticket;
}
