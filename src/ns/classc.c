/*
 * Class C and multicast downlinks: sent when they are queued, not in an uplink's receive
 * windows.
 *
 * A Class C device listens on RX2's frequency and data rate whenever it is not
 * transmitting, so its queued downlinks go out at once (txpk "imme") on RX2 through the
 * gateways that heard its last uplink, best SNR first, within each gateway's duty cycle —
 * except while its own Class A windows may still be open (RX2 delay + 1 s after an uplink:
 * the item then goes in that uplink's answer, or here right after). One item per device
 * per pass; the next once the frame is on air (FPending tells the device more waits).
 *
 * A multicast group's frame goes to McAddr with the group's counter and keys, on the
 * group's frequency / data rate (the region's RX2 by default), through as few gateways as
 * reach every member: greedy set cover over the gateways that heard each member's last
 * uplink, the gateway reaching most uncovered members first (ties: better SNR).
 *
 * The store is read only when something was queued (lg_store_queue_generation moved) or a
 * send put off is due again, so an idle server costs nothing here.
 */
#include <stdlib.h>
#include <string.h>

#include "ns/ns_int.h"
#include "util/util.h"

#define SEC 1000000000LL
enum { MAX_CLASS_C = 64, MAX_MEMBERS = 4096, MAX_HEARD = 8 };

/* When the device's Class A windows after its last uplink are over; 0 when it never sent
 * one. The gateways that heard it, best first, in gws. */
static int64_t last_heard(struct lg_ns *ns, uint64_t dev_eui, uint64_t *gws, double *snr,
                          size_t *n) {
  struct lg_store_heard h[MAX_HEARD];
  int64_t at = 0;
  *n = 0;
  if (lg_store_last_heard(ns->store, dev_eui, h, MAX_HEARD, n, &at) != 0) return 0;
  for (size_t i = 0; i < *n; i++)
    gws[i] = h[i].gateway_eui, snr[i] = h[i].snr_db;
  return at + ns->region->receive_delay2_ns + SEC;
}

/* One Class C device's oldest queued item: 0 when done with it, else how long until it is
 * worth trying again (its Class A windows, a budget that comes back, more items). */
static int64_t send_class_c(struct lg_ns *ns, uint64_t dev_eui, int64_t now) {
  struct lg_device_rec d;
  if (lg_store_device_get(ns->store, dev_eui, &d) != 0 || !d.has_session || !d.class_c)
    return 0; /* gone or changed: nothing to do for it here */
  uint64_t gws[MAX_HEARD];
  double snr[MAX_HEARD];
  size_t n = 0;
  int64_t free_at = last_heard(ns, dev_eui, gws, snr, &n);
  if (n == 0) return 5 * SEC; /* never heard: it waits in its queue (GET .../queue shows it) */
  if (now < free_at) return SEC / 2; /* its Class A windows: the answer takes it */
  bool device_dwell = ns_device_downlink_dwell(ns, dev_eui);
  size_t phy = ns_downlink_max_phy(ns, ns->region->rx2_dr, device_dwell);
  size_t cap = phy > 13 ? phy - 13 : 0; /* MHDR, FHDR without FOpts, FPort, MIC */
  struct ns_dl dl = {.device_dwell = device_dwell};
  struct ns_down_info in;
  bool built = ns_data_down(ns, &d, false, NULL, 0, cap < 242 ? cap : 242, &dl, &in);
  if (in.discarded)
    ns_event(ns, dev_eui, "queue_discarded",
             json_pack("{s:i, s:I, s:I, s:s}", "f_port", in.f_port_discarded, "bytes",
                       (json_int_t)in.len_discarded, "max_bytes", (json_int_t)in.cap, "reason",
                       "larger than RX2's data rate allows (dwell time or region limit)"));
  if (!built) return 0;
  dl.has_f_cnt = true, dl.f_cnt = in.f_cnt;
  uint64_t via = 0;
  bool budget = false;
  if (!ns_send_now(ns, dev_eui, gws, n, ns->region->rx2_freq_hz, ns->region->rx2_dr, &dl, &via,
                   &budget)) {
    atomic_fetch_add(&ns->m.downlinks[budget ? LG_DL_DUTY_CYCLE : LG_DL_NO_GATEWAY], 1);
    ns_log(ns, "%016llx: Class C downlink FCnt %u not sent: %s", (unsigned long long)dev_eui,
           in.f_cnt, budget ? "no duty-cycle budget" : "no gateway with a downlink path");
    /* the counter is spent, the item is not lost: back to the queue (at its end) */
    if (in.f_port >= 0 &&
        lg_store_queue_push(ns->store, dev_eui, in.f_port, in.data, in.len, in.confirmed) != 0)
      ns_store_error(ns, "re-queueing a Class C downlink");
    return 10 * SEC; /* the budget or a path comes back slowly */
  }
  atomic_fetch_add(&ns->m.class_c_downlinks, 1);
  ns_log(ns, "%016llx: Class C downlink FCnt %u sent via %016llx", (unsigned long long)dev_eui,
         in.f_cnt, (unsigned long long)via);
  if (lg_store_downlink_add(ns->store, dev_eui, in.f_cnt, in.f_port, in.confirmed, false, 0, now) ||
      ns_downlink_event(ns, dev_eui, &in, false, 0, "C"))
    ns_store_error(ns, "recording a downlink");
  if (in.confirmed) ns_nack_awaiting(ns, dev_eui, true);
  return in.more ? SEC / 2 : 0;
}

/* The gateways through which one frame reaches every member: greedy set cover. */
static size_t cover(struct lg_ns *ns, const uint64_t *members, size_t n_members, uint64_t *out,
                    size_t cap, size_t *unreached) {
  struct heard {
    uint64_t gws[MAX_HEARD];
    double snr[MAX_HEARD];
    size_t n;
    bool covered;
  } *h = calloc(n_members ? n_members : 1, sizeof(*h));
  size_t n_out = 0;
  *unreached = 0;
  if (h == NULL) return 0;
  for (size_t i = 0; i < n_members; i++) {
    last_heard(ns, members[i], h[i].gws, h[i].snr, &h[i].n);
    size_t k = 0; /* only gateways that can send now */
    for (size_t j = 0; j < h[i].n; j++) {
      struct ns_gateway *g = ns_gateway(ns, h[i].gws[j]);
      if (g && g->known && (g->has_pull || g->station))
        h[i].gws[k] = h[i].gws[j], h[i].snr[k++] = h[i].snr[j];
    }
    h[i].n = k;
    if (k == 0) h[i].covered = true, (*unreached)++;
  }
  while (n_out < cap) {
    uint64_t best = 0;
    size_t best_count = 0;
    double best_snr = -1e9;
    for (size_t i = 0; i < n_members; i++) /* each candidate: a gateway of an uncovered member */
      for (size_t j = 0; !h[i].covered && j < h[i].n; j++) {
        uint64_t g = h[i].gws[j];
        size_t count = 0;
        double snr = -1e9;
        for (size_t m = 0; m < n_members; m++)
          for (size_t k = 0; !h[m].covered && k < h[m].n; k++)
            if (h[m].gws[k] == g) count++, snr = snr > h[m].snr[k] ? snr : h[m].snr[k];
        if (count > best_count || (count == best_count && snr > best_snr))
          best = g, best_count = count, best_snr = snr;
      }
    if (best_count == 0) break;
    out[n_out++] = best;
    for (size_t m = 0; m < n_members; m++)
      for (size_t k = 0; !h[m].covered && k < h[m].n; k++)
        if (h[m].gws[k] == best) h[m].covered = true;
  }
  free(h);
  return n_out;
}

/* One queued group downlink: through every gateway of the cover. */
static void send_group(struct lg_ns *ns, int64_t id, int f_port, const uint8_t *data, size_t len) {
  struct lg_mcast_group g;
  if (lg_store_mcast_get(ns->store, id, &g) != 0) {
    ns_log(ns, "multicast group %lld: gone or unreadable; its downlink is dropped", (long long)id);
    return;
  }
  uint64_t *members = malloc(MAX_MEMBERS * sizeof(*members));
  size_t n = 0, unreached = 0;
  if (members == NULL || lg_store_mcast_members(ns->store, id, members, MAX_MEMBERS, &n) != 0) {
    free(members);
    return;
  }
  if (n == MAX_MEMBERS)
    ns_log(ns, "multicast group %lld: only its first %d members are covered", (long long)id,
           MAX_MEMBERS);
  uint64_t gws[32];
  size_t n_gw = cover(ns, members, n, gws, LG_ARRAY_LEN(gws), &unreached);
  free(members);
  uint32_t fcnt = 0;
  struct ns_dl dl = {0};
  if (n_gw == 0 || lg_store_mcast_fcnt_take(ns->store, id, &fcnt) != 0 ||
      !ns_mcast_down(ns, &g, fcnt, f_port, data, len, &dl)) {
    ns_log(ns, "multicast group %lld: downlink dropped (%zu members, none reachable)",
           (long long)id, n);
    return;
  }
  uint32_t freq = g.freq_hz ? g.freq_hz : ns->region->rx2_freq_hz;
  int dr = g.dr >= 0 ? g.dr : ns->region->rx2_dr;
  size_t sent = 0;
  for (size_t i = 0; i < n_gw; i++) {
    uint64_t via = 0;
    bool budget = false;
    if (ns_send_now(ns, 0, &gws[i], 1, freq, dr, &dl, &via, &budget))
      sent++;
    else
      ns_log(ns, "multicast group %lld: %016llx cannot send (%s)", (long long)id,
             (unsigned long long)gws[i], budget ? "duty cycle" : "no path");
  }
  atomic_fetch_add(&ns->m.multicast_downlinks, 1);
  atomic_fetch_add(&ns->m.multicast_transmissions, sent);
  ns_log(ns,
         "multicast group %lld: FCnt %u to %zu members through %zu of %zu gateways"
         " (%zu members never heard)",
         (long long)id, fcnt, n, sent, n_gw, unreached);
}

void ns_classc_tick(struct lg_ns *ns) {
  unsigned gen = lg_store_queue_generation();
  int64_t now = ns_now(ns);
  bool due = ns->classc_retry_ns && now >= ns->classc_retry_ns;
  if (ns->classc_queue_gen == gen + 1 && !due) return;
  ns->classc_queue_gen = gen + 1;
  ns->classc_retry_ns = 0;
  int64_t id;
  int f_port;
  uint8_t data[242];
  size_t len;
  int groups = 0;
  for (; groups < 16 &&
         lg_store_mcast_queue_pop(ns->store, &id, &f_port, data, sizeof(data), &len) == 0;
       groups++)
    send_group(ns, id, f_port, data, len);
  uint64_t devs[MAX_CLASS_C];
  size_t n = 0;
  int64_t again = INT64_MAX;
  if (lg_store_queue_class_c(ns->store, devs, MAX_CLASS_C, &n) == 0)
    for (size_t i = 0; i < n; i++) {
      int64_t wait = send_class_c(ns, devs[i], now);
      if (wait > 0 && wait < again) again = wait;
    }
  if (n == MAX_CLASS_C || groups == 16) again = SEC / 2;
  if (again != INT64_MAX) ns->classc_retry_ns = now + again;
  /* items this pass put back (no budget) are not news: the retry time says when */
  ns->classc_queue_gen = lg_store_queue_generation() + 1;
}
