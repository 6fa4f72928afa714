/*
 * What the integration asks about a device, from the store: its payload codec (from its
 * profile, below) and its ChirpStack deviceInfo (lg_device_lookup_info).
 *
 * A device's payload codec, from its profile (`payload_codec`: "cayenne_lpp", "js:NAME"):
 * the hook codec.h asks through (lg_codecs_set_lookup), called once per uplink from the
 * integration thread and from the API's threads. Answers come from a cache of DevEUI ->
 * spec, valid while no device or profile was written (lg_store_devices_generation: a
 * profile's change reaches its devices at their next uplink); a miss reads the device and
 * its profile on a store connection of the lookup's own, under a mutex. The cache is
 * bounded: full, it starts again empty.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "integ/integ.h"
#include "store/store.h"
#include "util/util.h"

enum { CACHE_MAX = 100000 };

struct entry {
  uint64_t dev_eui;
  char spec[64];
  int max_up; /* the profile's max_uplinks_per_day (0: none) */
  UT_hash_handle hh;
};

struct lg_codec_lookup {
  pthread_mutex_t mu;
  bool own_app_ids; /* [mqtt] application_id left at its default: each device's own */
  struct lg_store *store;
  struct entry *cache;
  size_t n;
  unsigned gen; /* the devices' generation the cache holds */
};

struct lg_codec_lookup *lg_codec_lookup_open(const struct lg_config *cfg, char *why,
                                             size_t why_len) {
  struct lg_codec_lookup *l = calloc(1, sizeof(*l));
  char note[512];
  if (l == NULL) return NULL;
  if (lg_config_open_store(cfg, NULL, &l->store, NULL, note, sizeof(note), why, why_len)) {
    free(l);
    return NULL;
  }
  pthread_mutex_init(&l->mu, NULL);
  l->gen = lg_store_devices_generation();
  l->own_app_ids = strcmp(cfg->mqtt_application_id, "00000000-0000-0000-0000-000000000000") == 0;
  return l;
}

static void clear(struct lg_codec_lookup *l) {
  struct entry *e, *tmp;
  HASH_ITER(hh, l->cache, e, tmp) {
    HASH_DEL(l->cache, e);
    free(e);
  }
  l->n = 0;
}

void lg_codec_lookup_close(struct lg_codec_lookup *l) {
  if (l == NULL) return;
  clear(l);
  lg_store_close(l->store);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* What a device's profile says: its codec ("" without a profile or a codec) and its daily
 * uplink limit. */
static void read_profile(struct lg_store *s, struct entry *e) {
  struct lg_device_rec d;
  struct lg_profile_rec p;
  e->spec[0] = '\0';
  e->max_up = 0;
  if (lg_store_device_get(s, e->dev_eui, &d) == 0 && d.profile_id > 0 &&
      lg_store_profile_get(s, d.profile_id, &p) == 0) {
    snprintf(e->spec, sizeof(e->spec), "%s", p.payload_codec);
    e->max_up = p.max_uplinks_per_day;
  }
}

/* The cached entry of a device (read on a miss); NULL when out of memory. The mutex held. */
static struct entry *entry_of(struct lg_codec_lookup *l, uint64_t dev_eui) {
  unsigned gen = lg_store_devices_generation();
  if (gen != l->gen) clear(l), l->gen = gen;
  struct entry *e;
  HASH_FIND(hh, l->cache, &dev_eui, sizeof(dev_eui), e);
  if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
    if (l->n >= CACHE_MAX) clear(l);
    e->dev_eui = dev_eui;
    read_profile(l->store, e);
    HASH_ADD(hh, l->cache, dev_eui, sizeof(e->dev_eui), e);
    l->n++;
  }
  return e;
}

int lg_codec_lookup_profile(void *ctx, uint64_t dev_eui, char *spec, size_t spec_len) {
  struct lg_codec_lookup *l = ctx;
  pthread_mutex_lock(&l->mu);
  struct entry *e = entry_of(l, dev_eui);
  snprintf(spec, spec_len, "%s", e ? e->spec : "");
  pthread_mutex_unlock(&l->mu);
  return 0;
}

int lg_device_lookup_uplink_limit(void *ctx, uint64_t dev_eui) {
  struct lg_codec_lookup *l = ctx;
  pthread_mutex_lock(&l->mu);
  struct entry *e = entry_of(l, dev_eui);
  int max_up = e ? e->max_up : 0;
  pthread_mutex_unlock(&l->mu);
  return max_up;
}

/* ChirpStack's ids are UUIDs: lorageo's integer ids written as one (1 ->
 * 00000000-0000-0000-0000-000000000001), so consumers that parse them keep working. */
static void uuid_of(int64_t id, char *out, size_t len) {
  snprintf(out, len, "00000000-0000-0000-0000-%012llx", (unsigned long long)id);
}

int lg_device_lookup_info(void *ctx, uint64_t dev_eui, struct lg_integ_device *d) {
  struct lg_codec_lookup *l = ctx;
  struct lg_device_rec rec;
  struct lg_app_rec app;
  struct lg_profile_rec prof;
  pthread_mutex_lock(&l->mu);
  int rc = lg_store_device_get(l->store, dev_eui, &rec);
  if (rc == 0 && rec.application_id > 0 &&
      lg_store_app_get(l->store, rec.application_id, &app) == 0) {
    if (l->own_app_ids) uuid_of(app.id, d->application_id, sizeof(d->application_id));
    snprintf(d->application_name, sizeof(d->application_name), "%s", app.name);
  }
  if (rc == 0 && rec.profile_id > 0 && lg_store_profile_get(l->store, rec.profile_id, &prof) == 0) {
    uuid_of(prof.id, d->device_profile_id, sizeof(d->device_profile_id));
    snprintf(d->device_profile_name, sizeof(d->device_profile_name), "%s", prof.name);
  }
  pthread_mutex_unlock(&l->mu);
  return rc;
}
