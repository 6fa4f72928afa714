/*
 * What the server learns and keeps across restarts: geolocation's lessons from reference
 * devices ([geo] learned, geo/live.c) and ADR's link map ([adr] learned, adr/linkmap.c),
 * read at start, saved periodically (the link map's copy on a thread of its own) and at
 * stop. Called by ns.c (start, stop) and uplink.c (after learning); calls only helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ns/ns_int.h"
#include "util/util.h"
/* What locating learns (geo/live.c), picked up from [geo] learned when the file exists:
 * a server that restarts keeps its reference devices' lessons. */
int ns_open_live(struct lg_ns *ns, const struct lg_config *cfg, char *why, size_t why_len) {
  struct lg_geo_live_opts lo = lg_geo_live_opts_default();
  if ((ns->live = lg_geo_live_new(&lo)) == NULL) {
    snprintf(why, why_len, "out of memory");
    return LG_ENOMEM;
  }
  ns->m.live = ns->live;
  if (ns->cal && ns->cal->radio_map) lg_geo_live_set_radio_map(ns->live, ns->cal->radio_map);
  if (cfg->geo_learned[0] == '\0') return 0;
  lg_geo_live_set_save_path(ns->live, cfg->geo_learned); /* each rebuild's map saved */
  if (access(cfg->geo_learned, F_OK) != 0) return 0;
  char sub[300];
  if (lg_geo_live_load(ns->live, cfg->geo_learned, sub, sizeof(sub)) != 0) {
    snprintf(why, why_len, "[geo] learned: %s", sub);
    return LG_EINVAL;
  }
  ns->live_saved_refs = lg_geo_live_references(ns->live);
  ns_log(ns, "learned %s: %llu reference frames so far", cfg->geo_learned,
         (unsigned long long)ns->live_saved_refs);
  return 0;
}

void ns_save_live(struct lg_ns *ns, bool soon) {
  if (ns->live == NULL || ns->cfg.geo_learned[0] == '\0') return;
  uint64_t refs = lg_geo_live_references(ns->live);
  /* unchanged: nothing to save — but at stop, once anything was learned, the files are
   * written whole (a rebuild may have written the map file since the last save) */
  if (refs == ns->live_saved_refs && lg_geo_live_noise_factor(ns->live) == 1.0 &&
      (soon || refs == 0))
    return;
  char why[300] = "";
  if ((soon ? lg_geo_live_save_soon : lg_geo_live_save)(ns->live, ns->cfg.geo_learned, why,
                                                        sizeof(why)) != 0) {
    ns_log(ns, "[geo] learned: %s", why);
    return;
  }
  if (why[0]) ns_log(ns, "[geo] learned: %s (the radio map file stays as it was)", why);
  ns->live_saved_refs = refs;
}

/* What ADR learns of the links (adr/linkmap.c), picked up from [adr] learned when the file
 * exists; its plane's origin comes with it. */
int ns_open_links(struct lg_ns *ns, const struct lg_config *cfg, char *why, size_t why_len) {
  char sub[300];
  if (cfg->adr_learned[0] && access(cfg->adr_learned, F_OK) == 0) {
    if (lg_linkmap_load(cfg->adr_learned, NS_LINK_CELLS, &ns->links.map, ns->links.origin, sub,
                        sizeof(sub)) != 0) {
      snprintf(why, why_len, "[adr] learned: %s", sub);
      return LG_EINVAL;
    }
    lg_enu_init(&ns->links.frame,
                &(struct lg_geodetic){ns->links.origin[0], ns->links.origin[1], 0});
    ns->links.framed = true;
    uint64_t refused = 0;
    size_t cells = lg_linkmap_size(ns->links.map, &refused);
    atomic_store(&ns->m.adr_link_cells, cells);
    atomic_store(&ns->m.adr_link_refused, refused);
    ns_log(ns, "learned %s: %zu links (gateway, cell)%s", cfg->adr_learned, cells,
           refused ? ", some over the cap not loaded" : "");
  } else if ((ns->links.map = lg_linkmap_new(NS_LINK_CELL_M, NS_LINK_CELLS)) == NULL) {
    snprintf(why, why_len, "out of memory");
    return LG_ENOMEM;
  }
  /* a path it cannot write to would only show at the first save, perhaps days on */
  char tmp[sizeof(cfg->adr_learned) + 8];
  snprintf(tmp, sizeof(tmp), "%s.tmp", cfg->adr_learned);
  int fd = cfg->adr_learned[0] ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600) : 0;
  if (fd < 0) {
    snprintf(why, why_len, "[adr] learned: cannot write %s: %s", tmp, strerror(errno));
    return LG_EINVAL;
  }
  if (cfg->adr_learned[0]) close(fd), unlink(tmp);
  return 0;
}

struct links_save {
  struct lg_ns *ns;
  struct lg_linkmap *copy;
  double origin[2];
};

static void *save_links_copy(void *arg) {
  struct links_save *job = arg;
  char why[300];
  if (lg_linkmap_save(job->copy, job->origin, job->ns->cfg.adr_learned, why, sizeof(why)) != 0) {
    ns_log(job->ns, "[adr] learned: %s", why);
    atomic_fetch_add(&job->ns->m.adr_link_save_errors, 1);
    atomic_store(&job->ns->links_save_failed, true);
  }
  lg_linkmap_free(job->copy);
  atomic_store(&job->ns->links_saved, true);
  free(job);
  return NULL;
}

/* Joins the last periodic save if it is over (or, wait, in any case). False: still writing. */
static bool links_saver_idle(struct lg_ns *ns, bool wait) {
  if (!ns->links_saving) return true;
  if (!wait && !atomic_load(&ns->links_saved)) return false;
  pthread_join(ns->links_saver, NULL);
  ns->links_saving = false;
  if (atomic_exchange(&ns->links_save_failed, false) && ns->links_unsaved == 0)
    ns->links_unsaved = 1; /* what it held is still unsaved: again later, and at stop */
  return true;
}

size_t lg_ns_link_cells(struct lg_ns_links *l, uint64_t gateway_eui, struct lg_ns_link_cell *out,
                        size_t cap, double *cell_m) {
  static _Thread_local struct lg_linkmap_cell c[4096];
  /* the gateway's cells copied under the lock (a scan of the slots, ~0.2 ms at the cap),
   * their laws fitted after: the packet thread decides under the same lock */
  pthread_mutex_lock(&l->mu);
  *cell_m = lg_linkmap_cell_m(l->map);
  struct lg_linkmap *x = l->map ? lg_linkmap_extract(l->map, gateway_eui, 4096) : NULL;
  struct lg_enu_frame frame = l->frame;
  bool framed = l->framed;
  uint64_t over = 0; /* beyond the 4,096 taken */
  size_t kept = lg_linkmap_size(x, &over);
  pthread_mutex_unlock(&l->mu);
  size_t total = kept + (size_t)over;
  lg_linkmap_cells(x, gateway_eui, c, cap < 4096 ? cap : 4096);
  lg_linkmap_free(x);
  for (size_t n = 0; framed && n < kept && n < cap && n < 4096; n++) {
    double enu[3] = {(c[n].cx + 0.5) * *cell_m, (c[n].cy + 0.5) * *cell_m, 0};
    struct lg_geodetic g;
    lg_enu_to_geodetic(&frame, enu, &g);
    out[n] = (struct lg_ns_link_cell){g.lat_deg,    g.lon_deg, c[n].heard, c[n].missed,
                                      c[n].has_law, c[n].mu,   c[n].sigma};
  }
  return total;
}

void ns_save_links(struct lg_ns *ns, bool soon) {
  if (ns->links.map == NULL || !ns->links.framed || ns->cfg.adr_learned[0] == '\0' ||
      ns->links_unsaved == 0 || !links_saver_idle(ns, !soon))
    return;
  char why[300];
  if (!soon) {
    pthread_mutex_lock(&ns->links.mu);
    int rc =
        lg_linkmap_save(ns->links.map, ns->links.origin, ns->cfg.adr_learned, why, sizeof(why));
    pthread_mutex_unlock(&ns->links.mu);
    if (rc != 0) {
      ns_log(ns, "[adr] learned: %s", why);
      atomic_fetch_add(&ns->m.adr_link_save_errors, 1);
    } else {
      ns->links_unsaved = 0;
    }
    return;
  }
  struct links_save *job = malloc(sizeof(*job));
  pthread_mutex_lock(&ns->links.mu);
  if (job)
    *job = (struct links_save){
        ns, lg_linkmap_clone(ns->links.map), {ns->links.origin[0], ns->links.origin[1]}};
  pthread_mutex_unlock(&ns->links.mu);
  atomic_store(&ns->links_saved, false);
  if (job && job->copy && pthread_create(&ns->links_saver, NULL, save_links_copy, job) == 0) {
    ns->links_saving = true;
    ns->links_unsaved = 0;
    return;
  }
  if (job) lg_linkmap_free(job->copy);
  free(job);
  ns->links_unsaved = 1; /* tried again after as many more learned uplinks, and at stop */
  atomic_fetch_add(&ns->m.adr_link_save_errors, 1);
  ns_log(ns, "[adr] learned: no memory or thread for a save (tried again later)");
}

void ns_links_wait(struct lg_ns *ns) {
  links_saver_idle(ns, true);
}
