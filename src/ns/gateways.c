/*
 * The gateway registry: what the server knows of each gateway EUI it hears from (read from
 * the store, re-read every 30 s, an unprovisioned one at most every second), with the
 * unprovisioned ones in a bounded least-recently-checked list (max_unknown_gateways) so a
 * flood of made-up EUIs costs bounded memory. Calls only helpers and the store.
 */
#include <stdlib.h>

#include "ns/ns_int.h"
#include "util/util.h"

static void unknown_unlink(struct lg_ns *ns, struct ns_gateway *g) {
  if (!g->unknown_listed) return;
  if (g->unknown_prev)
    g->unknown_prev->unknown_next = g->unknown_next;
  else
    ns->unknown_oldest = g->unknown_next;
  if (g->unknown_next)
    g->unknown_next->unknown_prev = g->unknown_prev;
  else
    ns->unknown_newest = g->unknown_prev;
  g->unknown_prev = g->unknown_next = NULL;
  g->unknown_listed = false;
  ns->n_unknown--;
}

/* An unprovisioned gateway goes (back) to the end of the list; past max_unknown_gateways
 * the least recently checked is forgotten (a flood of made-up EUIs costs bounded memory;
 * a forgotten one is looked up again when it comes back). */
static void unknown_touch(struct lg_ns *ns, struct ns_gateway *g) {
  unknown_unlink(ns, g);
  g->unknown_prev = ns->unknown_newest;
  if (ns->unknown_newest)
    ns->unknown_newest->unknown_next = g;
  else
    ns->unknown_oldest = g;
  ns->unknown_newest = g;
  g->unknown_listed = true;
  ns->n_unknown++;
  while (ns->n_unknown > (size_t)ns->cfg.max_unknown_gateways && ns->unknown_oldest != g) {
    struct ns_gateway *old = ns->unknown_oldest;
    unknown_unlink(ns, old);
    HASH_DEL(ns->gateways, old);
    if (old->dc) lg_dc_free(old->dc);
    free(old->dc);
    free(old);
    atomic_fetch_add(&ns->m.shed[LG_SHED_UNKNOWN_GATEWAY], 1);
  }
  atomic_store(&ns->m.unknown_gateways, ns->n_unknown);
}

struct ns_gateway *ns_gateway(struct lg_ns *ns, uint64_t eui) {
  struct ns_gateway *g;
  if (ns->io.gateways_changed) {
    unsigned gen = atomic_load(ns->io.gateways_changed);
    if (gen != ns->gateways_seen) { /* provisioning changed: read every gateway again */
      ns->gateways_seen = gen;
      for (g = ns->gateways; g; g = g->hh.next)
        g->checked_ns = 0;
    }
  }
  HASH_FIND(hh, ns->gateways, &eui, sizeof(eui), g);
  int64_t now = ns_now(ns);
  if (g == NULL) {
    if ((g = calloc(1, sizeof(*g))) == NULL) return NULL;
    g->eui = eui;
    HASH_ADD(hh, ns->gateways, eui, sizeof(eui), g);
  }
  /* Provisioning happens through the API's own connection: re-read a known gateway
   * every 30 s (its position may change), an unknown one at most every second (a flood
   * of datagrams from an unprovisioned EUI must not become a flood of queries). */
  int64_t every = g->known ? 30000000000LL : 1000000000LL;
  if (g->checked_ns == 0 || now - g->checked_ns > every) {
    struct lg_gateway_rec rec;
    g->known = lg_store_gateway_get(ns->store, eui, &rec) == 0;
    if (g->known) {
      g->has_position = rec.has_position;
      g->position_from_gateway = rec.position_from_gateway;
      g->lat_deg = rec.lat_deg;
      g->lon_deg = rec.lon_deg;
      g->alt_m = rec.alt_m;
    }
    g->timing_offset_ns = g->known ? rec.timing_offset_ns : 0;
    g->checked_ns = now;
    if (g->known)
      unknown_unlink(ns, g);
    else
      unknown_touch(ns, g);
    atomic_store(&ns->m.unknown_gateways, ns->n_unknown);
  }
  return g;
}
