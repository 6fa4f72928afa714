/*
 * store — lorageo's storage: gateways, devices and their sessions, DevNonces, uplinks
 * with every gateway's reception (raw PHYPayload kept, so any result can be recomputed),
 * locations and the downlink queue. SQLite in WAL mode is the default, PostgreSQL the
 * choice for several instances (store.c, db.c); no engine's type leaks out.
 *
 * One struct lg_store is one connection and is used from one thread at a time; the
 * network server and the HTTP API each open their own (WAL lets readers run beside the
 * writer). The frame counter is advanced by a compare-and-set in SQL, so no two writers
 * can both accept one counter. EUIs and keys are hex strings in the database, as the
 * API writes them.
 */
#ifndef LG_STORE_H
#define LG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct lg_store;

/* Every result says whether the write happened; a caller that ignores one loses data
 * silently (the server rolls its batch back and runs it again from the journal). */
#define LG_STORE_MUST __attribute__((warn_unused_result))

/* Opens (creating and migrating) the database at `path`: a SQLite file, or a
 * postgresql:// (postgres://) URI. LG_EIO with a reason. */
LG_STORE_MUST int lg_store_open(struct lg_store **s, const char *path, char *why, size_t why_len);
void lg_store_close(struct lg_store *s);

/* Groups the writes that follow into one transaction until lg_store_commit() (the
 * server batches everything one timer tick processes: one commit, one lock, for many
 * uplinks). Without it every write commits on its own. */
LG_STORE_MUST int lg_store_begin(struct lg_store *s);
LG_STORE_MUST int lg_store_commit(struct lg_store *s);
/* The engine's message for the last failure on this connection (valid until the next call). */
const char *lg_store_errmsg(struct lg_store *s);
/* Undoes the open transaction (a batch with a failed write is not kept in part). */
LG_STORE_MUST int lg_store_rollback(struct lg_store *s);
/* One small write of its own (the time, in `meta`), committed: whether storage takes
 * writes now, asked when nothing else is waiting to be written (ns.c, after a failure). */
LG_STORE_MUST int lg_store_probe_write(struct lg_store *s, int64_t now_ns);

/* ---- gateways ----------------------------------------------------------------- */

struct lg_gateway_rec {
  uint64_t eui;
  char name[64];
  bool has_position;
  double lat_deg, lon_deg, alt_m;
  double timing_offset_ns; /* subtracted from its receive times (e.g. from `lorageo calibrate`) */
  /* A Basics Station's token, as lg_store_token_hash gives it ("": none). lg_store_gateway_put
   * writes it only with set_station_token (an empty hash then clears it); otherwise the
   * stored one stays. */
  char station_token_hash[65];
  bool set_station_token;
  /* The position its `stat` messages report (its GPS) is its position, over a surveyed one.
   * Without it a `stat` position only places a gateway provisioned without any (issue 16:
   * the Semtech UDP protocol lets anyone send a `stat`). */
  bool position_from_gateway;
};

/* SHA-256 of a gateway token, 64 hex digits: what the database keeps of it. */
void lg_store_token_hash(const char *token, size_t len, char out[65]);
/* Whether `token` is the one whose hash is `hash` (constant time in the hash's length). */
bool lg_store_token_ok(const char *token, size_t len, const char *hash);

/* Inserts or replaces a gateway. */
LG_STORE_MUST int lg_store_gateway_put(struct lg_store *s, const struct lg_gateway_rec *g);
/* LG_ENOTFOUND when unknown. */
LG_STORE_MUST int lg_store_gateway_get(struct lg_store *s, uint64_t eui, struct lg_gateway_rec *g);
LG_STORE_MUST int lg_store_gateway_delete(struct lg_store *s, uint64_t eui);
/* Records a gateway's last-seen time, its packet counter, and the position from its
 * `stat` (kept apart from the provisioned one; lg_store_gateway_get returns it only for a
 * gateway with position_from_gateway or without a surveyed position). */
LG_STORE_MUST int lg_store_gateway_seen(struct lg_store *s, uint64_t eui, int64_t now_ns, int rx_packets,
                          bool has_stat_pos, double lat, double lon, double alt);
/* New JSON: {"items": [...]} or one gateway object (NULL when unknown). */
struct json_t *lg_store_gateways_json(struct lg_store *s);
struct json_t *lg_store_gateway_json(struct lg_store *s, uint64_t eui);

/* ---- devices and sessions ----------------------------------------------------- */

struct lg_device_rec {
  uint64_t dev_eui;
  char name[64];
  char adr[16]; /* off | standard | eadr | predictive */
  bool otaa;
  uint64_t join_eui;
  uint8_t app_key[16];
  bool has_session; /* ABP, or OTAA after a join */
  uint32_t dev_addr;
  /* LoRaWAN 1.0.x: NwkSKey and AppSKey. 1.1 splits NwkSKey in three: FNwkSIntKey (uplink
   * MIC: nwk_s_key), SNwkSIntKey (downlink MIC) and NwkSEncKey (FOpts, FPort 0); without
   * has_11_keys all three are nwk_s_key (lg_device_snwk_key, lg_device_nwk_enc_key). */
  uint8_t nwk_s_key[16], app_s_key[16];
  bool has_11_keys;
  uint8_t s_nwk_s_int_key[16], nwk_s_enc_key[16];
  uint32_t fcnt_up_next;    /* the next expected 32-bit uplink counter */
  uint32_t fcnt_down;       /* the next downlink counter */
  uint32_t join_nonce;      /* the last one sent */
  bool fcnt_resets_allowed; /* ABP devices that restart from 0 after a reboot */
  int tx_power_index;       /* as last confirmed by a LinkADRAns (0: the region's max) */
  int nb_trans;
  bool has_adr_pending; /* a LinkADRReq sent and not yet answered */
  int adr_pending_dr, adr_pending_tx_power_index, adr_pending_nb_trans;
  bool reference; /* carries its own GPS position in its payload (issue 14) */
  bool class_c;   /* Class C: listens on RX2 whenever it does not transmit (else Class A) */
  /* Its application (0 on a put: the default application, 1) and device profile (0: none).
   * `inherit` (LG_INHERIT_*): the settings the profile gives it, the device's own being
   * ignored; lg_store_device_get returns adr, class_c and reference as they apply (the
   * profile's where inherited) and the profile's ADR margin (has_adr_margin). */
  int64_t application_id, profile_id;
  unsigned inherit;
  bool has_adr_margin;
  double adr_margin_db;
  bool has_adr_target; /* its profile's ADR delivery target (predictive) */
  double adr_target;
};

enum { LG_INHERIT_ADR = 1, LG_INHERIT_CLASS = 2, LG_INHERIT_REFERENCE = 4 };

static inline const uint8_t *lg_device_snwk_key(const struct lg_device_rec *d) {
  return d->has_11_keys ? d->s_nwk_s_int_key : d->nwk_s_key;
}
static inline const uint8_t *lg_device_nwk_enc_key(const struct lg_device_rec *d) {
  return d->has_11_keys ? d->nwk_s_enc_key : d->nwk_s_key;
}

LG_STORE_MUST int lg_store_device_put(struct lg_store *s, const struct lg_device_rec *d);
LG_STORE_MUST int lg_store_device_get(struct lg_store *s, uint64_t dev_eui, struct lg_device_rec *d);
LG_STORE_MUST int lg_store_device_delete(struct lg_store *s, uint64_t dev_eui);
/* Devices whose session uses `dev_addr` (DevAddrs may collide): up to `cap` into out,
 * count in *n. */
LG_STORE_MUST int lg_store_devices_by_addr(struct lg_store *s, uint32_t dev_addr, struct lg_device_rec *out,
                             size_t cap, size_t *n);
struct json_t *lg_store_devices_json(struct lg_store *s);
/* {"items": [{"dev_eui", "name", "latest": {"latitude", "longitude", "accuracy_m", "method",
 * "time_ns"}, "track": [[lat, lon], ...newest first, at most per_device]}], "last_id": N} for
 * every located device, or with since_id > 0 only those located after location since_id. */
struct json_t *lg_store_tracks_json(struct lg_store *s, int per_device, int64_t since_id);
struct json_t *lg_store_device_json(struct lg_store *s, uint64_t dev_eui);

/* Accepts frame counter `fcnt` if no counter at or above it was accepted: the next
 * expected becomes fcnt + 1 only while it is <= fcnt, and last-seen is set. 0, LG_EBUSY when
 * a counter at or above it was accepted already (by this server or another instance), or
 * LG_EIO. The storage thread's compare-and-set: exact even when the packet thread judged
 * the frame from a cached counter another instance has since moved. */
LG_STORE_MUST int lg_store_fcnt_up_advance(struct lg_store *s, uint64_t dev_eui, uint32_t fcnt,
                                           int64_t seen_ns);
/* Bumped (process-wide) whenever a device's session or settings are written through any
 * connection (put, delete, join, ADR state): caches of devices compare it to know they are
 * stale. */
unsigned lg_store_devices_generation(void);
/* Bumped (process-wide) whenever a downlink is queued: a cache that saw a device's queue
 * empty knows it still is while this has not moved. */
unsigned lg_store_queue_generation(void);
/* Accepts uplink counter `fcnt`: sets fcnt_up_next = fcnt + 1 only if it still holds
 * `expected` (compare-and-set), and the device's last-seen to seen_ns in the same UPDATE
 * (seen_ns < 0: left as it is). LG_EBUSY when another writer got there first. */
LG_STORE_MUST int lg_store_fcnt_up_cas(struct lg_store *s, uint64_t dev_eui, uint32_t expected,
                                       uint32_t fcnt, int64_t seen_ns);
/* Takes the next downlink counter (returns it in *fcnt and advances it). */
LG_STORE_MUST int lg_store_fcnt_down_take(struct lg_store *s, uint64_t dev_eui, uint32_t *fcnt);
/* Records a DevNonce; LG_EEXIST when this device already used it (a replayed join). */
LG_STORE_MUST int lg_store_devnonce_use(struct lg_store *s, uint64_t dev_eui, uint16_t dev_nonce);
/* Stores a new OTAA session (after a join-accept is built). */
LG_STORE_MUST int lg_store_activate(struct lg_store *s, uint64_t dev_eui, uint32_t dev_addr, uint32_t join_nonce,
                      const uint8_t nwk_s_key[16], const uint8_t app_s_key[16]);
/* Keeps the record of one OTAA activation (all of them, not only the current one). */
LG_STORE_MUST int lg_store_activation_add(struct lg_store *s, uint64_t dev_eui, uint32_t dev_addr,
                            uint32_t join_nonce, uint16_t dev_nonce, int64_t now_ns);
/* Whether a session already uses this DevAddr. */
LG_STORE_MUST int lg_store_dev_addr_used(struct lg_store *s, uint32_t dev_addr, bool *used);
LG_STORE_MUST int lg_store_device_status(struct lg_store *s, uint64_t dev_eui, int battery, int margin_db);

/* ---- uplinks, receptions, locations ------------------------------------------ */

/* The lists of one device (uplinks, locations, ADR decisions, events, downlinks) are pages,
 * newest first: at most `limit` items whose id is below before_id (0: from the newest),
 * {"items": [...], "next": cursor or null}; the cursor is the before_id of the next page. */

struct lg_reception_rec {
  uint64_t gateway_eui;
  bool has_time;
  int64_t time_ns; /* best GPS time, ns since the Unix epoch */
  double sigma_ns;
  bool has_tmst;
  uint32_t tmst;
  bool has_tmms;
  int64_t tmms_ms;
  bool has_ftime;
  int64_t ftime_ns;
  double rssi_dbm, snr_db;
  int channel, rf_chain, antennas;
  size_t n_ant; /* per-antenna measures (rsig[]), kept raw */
  struct {
    int ant, chan;
    bool has_rssi, has_snr, has_ftime;
    double rssi_dbm, snr_db;
    int64_t ftime_ns;
  } ant[8];
  uint32_t freq_hz;
  bool has_position;
  double lat_deg, lon_deg, alt_m; /* the gateway at that time */
  int64_t received_ns;            /* server clock */
};

struct lg_uplink_rec {
  uint64_t dev_eui;
  uint32_t dev_addr;
  uint32_t f_cnt;
  int f_port; /* -1 without FPort */
  uint8_t data[256];
  size_t data_len;
  bool confirmed, adr;
  int dr;
  uint32_t freq_hz;
  uint8_t phy[256];
  size_t phy_len;
  int64_t received_ns;
  int tx_power_index; /* the device's power setting at the time */
  bool has_truth;     /* a reference device's own GPS position, from its payload */
  double truth_lat_deg, truth_lon_deg, truth_alt_m;
};

/* Stores an uplink and its receptions in one transaction; its id goes to *id. */
LG_STORE_MUST int lg_store_uplink_add(struct lg_store *s, const struct lg_uplink_rec *u,
                        const struct lg_reception_rec *rx, size_t n, int64_t *id);
/* The uplink as GET /api/devices/{dev_eui}/uplinks shows it (its "items"' elements), built
 * from the records in memory: the MQTT `up` event is made from what the server has, not
 * read back from the database (which, with storage behind the packet path, may not hold it
 * yet). */
struct json_t *lg_store_uplink_json_of(const struct lg_uplink_rec *u,
                                       const struct lg_reception_rec *rx, size_t n);
/* The same inside a batch that a failure undoes whole (the storage thread's): no savepoint,
 * and the device's last-seen left to lg_store_fcnt_up_advance, which sets it with the
 * counter — two statements fewer per uplink. */
LG_STORE_MUST int lg_store_uplink_add_in_batch(struct lg_store *s, const struct lg_uplink_rec *u,
                                               const struct lg_reception_rec *rx, size_t n,
                                               int64_t *id);
/* Whether the device has an uplink with this frame counter received at or after since_ns:
 * 1 yes, 0 no, < 0 an error. */
LG_STORE_MUST int lg_store_uplink_has(struct lg_store *s, uint64_t dev_eui, uint32_t f_cnt, int64_t since_ns);
/* A copy that arrived after the de-duplication window, attached to its uplink. */
LG_STORE_MUST int lg_store_reception_add(struct lg_store *s, int64_t uplink_id, const struct lg_reception_rec *r,
                           bool late);
struct json_t *lg_store_uplinks_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id,
                                 int limit);

#define LG_STORE_MAX_OUTLIERS 8

struct lg_location_rec {
  int64_t uplink_id;
  uint64_t dev_eui;
  uint32_t f_cnt;
  double lat_deg, lon_deg, alt_m, accuracy_m, gdop;
  double accuracy_95_m; /* 0: unknown */
  char method[16];
  int gateways;
  int64_t created_ns;
  bool has_track; /* the device's filtered track as of this fix */
  double track_lat_deg, track_lon_deg, track_accuracy_m;
  bool outlier; /* the fix was gated out of the track */
  /* gateways whose reception's timing disagreed with the others' (lg_geo_fix's
   * timing_outliers): their receptions of this uplink are marked timing_outlier */
  uint64_t timing_outliers[LG_STORE_MAX_OUTLIERS];
  int n_timing_outliers;
};

LG_STORE_MUST int lg_store_location_add(struct lg_store *s, const struct lg_location_rec *l);
struct json_t *lg_store_locations_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id,
                                 int limit);

/* ---- the storage thread's batches on PostgreSQL (store_pipe.c) ---- */

/* Whether a batch's writes go through the lg_store_pipe_* calls below: on PostgreSQL, where
 * every answer waited for is a round trip. SQLite answers in-process: the calls above. */
bool lg_store_pipelined(const struct lg_store *s);
/* n new uplink ids, ascending, from the uplinks' sequence in one query: given to no other
 * writer (an id left unused is a gap, as a rolled-back INSERT leaves). */
LG_STORE_MUST int lg_store_uplink_ids(struct lg_store *s, size_t n, int64_t *ids);
/* Inside lg_store_begin's transaction: the lg_store_pipe_* calls that follow send their
 * statements without waiting for the answers; lg_store_pipe_end waits for all of them. */
LG_STORE_MUST int lg_store_pipe_begin(struct lg_store *s);
/* The counter's compare-and-set and, only if it holds, the uplink with id `id` (from
 * lg_store_uplink_ids), its receptions and its `up` event (payload taken, recorded at
 * event_ns), with the device's last-seen set to seen_ns: one statement. exact: the counter
 * must still be `expected` (a reset, lg_store_fcnt_up_cas); else at most u->f_cnt
 * (lg_store_fcnt_up_advance). lg_store_pipe_stored(*mark) says, after lg_store_pipe_end,
 * whether it held. */
LG_STORE_MUST int lg_store_pipe_uplink(struct lg_store *s, const struct lg_uplink_rec *u,
                                       const struct lg_reception_rec *rx, size_t n, int64_t id,
                                       bool exact, uint32_t expected, int64_t seen_ns,
                                       struct json_t *up_event, int64_t event_ns, size_t *mark);
/* Rows hanging on an uplink, written only if that uplink is (stored before, or by this
 * pipeline): a late copy; a location (l->uplink_id <= 0: unconditionally); an event
 * (if_uplink <= 0: unconditionally; the payload's reference is taken). */
LG_STORE_MUST int lg_store_pipe_reception(struct lg_store *s, int64_t uplink_id,
                                          const struct lg_reception_rec *r, bool late);
LG_STORE_MUST int lg_store_pipe_location(struct lg_store *s, const struct lg_location_rec *l);
LG_STORE_MUST int lg_store_pipe_event(struct lg_store *s, uint64_t dev_eui, const char *type,
                                      struct json_t *payload, int64_t now_ns, int64_t if_uplink);
/* Sends what is left and waits for every answer, leaving pipeline mode: 0, or LG_EIO when
 * a statement failed (PostgreSQL skipped the rest; the transaction is to be rolled back
 * whole; lg_store_errmsg says why). */
LG_STORE_MUST int lg_store_pipe_end(struct lg_store *s);
/* After lg_store_pipe_end: whether the uplink sent with `mark` was stored (false: its
 * counter was taken meanwhile, by another instance or since the session was read). */
bool lg_store_pipe_stored(const struct lg_store *s, size_t mark);

/* ---- ADR ------------------------------------------------------------------------ */

#define LG_STORE_ADR_RX 8

struct lg_store_adr_uplink {
  uint32_t f_cnt;
  int dr, tx_power_index;
  double max_snr_db, max_rssi_dbm;
  int gateways;
  int size; /* PHYPayload bytes */
  /* with `detail` (mobility-aware ADR): when, each gateway's reception (strongest first,
   * up to LG_STORE_ADR_RX, with the gateway's position), and the uplink's location */
  int64_t received_ns;
  int n_rx;
  struct lg_store_adr_rx {
    uint64_t gateway_eui;
    double lat_deg, lon_deg, rssi_dbm;
  } rx[LG_STORE_ADR_RX];
  bool has_fix;
  double fix_lat_deg, fix_lon_deg, fix_accuracy_m;
};

/* The device's last `cap` uplinks, oldest first, with their best SNR and RSSI (and with
 * `detail`, the fields above: two more queries per uplink). */
LG_STORE_MUST int lg_store_adr_history(struct lg_store *s, uint64_t dev_eui, struct lg_store_adr_uplink *out,
                         size_t cap, size_t *n, bool detail);
/* Records (set) or clears a LinkADRReq awaiting its answer. */
LG_STORE_MUST int lg_store_adr_pending(struct lg_store *s, uint64_t dev_eui, bool set, int dr, int txp, int nb);
/* The device accepted the pending LinkADRReq: its power and NbTrans become current. */
LG_STORE_MUST int lg_store_adr_applied(struct lg_store *s, uint64_t dev_eui);

struct lg_store_adr_decision {
  uint64_t dev_eui;
  uint32_t f_cnt;
  char algorithm[16];
  bool change;
  int dr_from, dr_to, tx_power_from, tx_power_to, nb_trans_from, nb_trans_to;
  double snr_margin_db;
  char reason[512];
  int64_t created_ns;
};

LG_STORE_MUST int lg_store_adr_decision_add(struct lg_store *s, const struct lg_store_adr_decision *d);
struct json_t *lg_store_adr_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id,
                                 int limit);

/* ---- events ----------------------------------------------------------------------- */

/* Appends an event of `type` ("up", "join", "location", "ack", "adr", "downlink") with
 * its payload (the reference is taken) to the device's record. */
LG_STORE_MUST int lg_store_event_add(struct lg_store *s, uint64_t dev_eui, const char *type,
                       struct json_t *payload, int64_t now_ns);
/* {"items": [{"type", "time_ns", "payload"}, ...]}, newest first. */
struct json_t *lg_store_events_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id,
                                 int limit);
/* Every device's events (application_id > 0: that application's devices only), each with
 * its "id", "dev_eui" and device "name": with since_id >= 0 those after it, oldest first
 * (a live feed: "next" is the last id given, null when no more wait); since_id < 0: newest first
 * below before_id (0: from the newest). "last_id" is the newest event's id of all. */
struct json_t *lg_store_events_all_json(struct lg_store *s, int64_t application_id,
                                        int64_t since_id, int64_t before_id, int limit);

/* ---- downlinks sent -------------------------------------------------------------- */

/* Records a data downlink; a confirmed one waits for the device's ACK. */
LG_STORE_MUST int lg_store_downlink_add(struct lg_store *s, uint64_t dev_eui, uint32_t f_cnt, int f_port,
                          bool confirmed, bool ack, size_t mac_bytes, int64_t now_ns);
/* An uplink with the ACK bit: the latest confirmed downlink awaiting it is acknowledged
 * (its FCntDown in *f_cnt). LG_ENOTFOUND when none waits. */
LG_STORE_MUST int lg_store_downlink_acked(struct lg_store *s, uint64_t dev_eui, int64_t now_ns, uint32_t *f_cnt);
struct json_t *lg_store_downlinks_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id,
                                 int limit);

/* ---- downlink queue ------------------------------------------------------------- */

LG_STORE_MUST int lg_store_queue_push(struct lg_store *s, uint64_t dev_eui, int f_port, const uint8_t *data,
                        size_t len, bool confirmed);
/* Pops the oldest queued downlink (LG_ENOTFOUND when empty); *more tells if others wait.
 * One larger than `cap` bytes is removed all the same and LG_ETOOLONG returned with its
 * size in *len (it would never fit: the caller reports it), nothing copied. */
LG_STORE_MUST int lg_store_queue_pop(struct lg_store *s, uint64_t dev_eui, int *f_port, uint8_t *data, size_t cap,
                       size_t *len, bool *confirmed, bool *more);

/* ---- Class C and multicast ------------------------------------------------------ */

/* DeviceModeInd: the device now runs Class C (or back to Class A). */
LG_STORE_MUST int lg_store_device_class_set(struct lg_store *s, uint64_t dev_eui, bool class_c);
/* Class C devices with a session and at least one queued downlink (up to cap). */
LG_STORE_MUST int lg_store_queue_class_c(struct lg_store *s, uint64_t *out, size_t cap, size_t *n);
struct lg_store_heard {
  uint64_t gateway_eui;
  double snr_db;
};
/* The gateways that heard the device's newest uplink in its window, best SNR first, and
 * when it was received. LG_ENOTFOUND when it never sent one. */
LG_STORE_MUST int lg_store_last_heard(struct lg_store *s, uint64_t dev_eui,
                                      struct lg_store_heard *out, size_t cap, size_t *n,
                                      int64_t *received_ns);

/* A multicast group: frames to McAddr, MIC and encryption with its own session keys, sent
 * as Class C downlinks on its frequency / data rate (0 / -1: the region's RX2). */
struct lg_mcast_group {
  int64_t id;
  char name[64];
  uint32_t mc_addr;
  uint8_t nwk_s_key[16], app_s_key[16];
  uint32_t f_cnt; /* the next downlink counter */
  uint32_t freq_hz;
  int dr;
};
/* Inserts g (its id set). */
LG_STORE_MUST int lg_store_mcast_put(struct lg_store *s, struct lg_mcast_group *g, int64_t now_ns);
LG_STORE_MUST int lg_store_mcast_get(struct lg_store *s, int64_t id, struct lg_mcast_group *g);
/* The group, its members and its queue. LG_ENOTFOUND when there is no such group. */
LG_STORE_MUST int lg_store_mcast_delete(struct lg_store *s, int64_t id);
/* Adds (or removes: LG_ENOTFOUND when not a member) a device. */
LG_STORE_MUST int lg_store_mcast_member(struct lg_store *s, int64_t id, uint64_t dev_eui, bool add);
LG_STORE_MUST int lg_store_mcast_members(struct lg_store *s, int64_t id, uint64_t *out, size_t cap,
                                         size_t *n);
/* Takes the group's next downlink counter. */
LG_STORE_MUST int lg_store_mcast_fcnt_take(struct lg_store *s, int64_t id, uint32_t *fcnt);
LG_STORE_MUST int lg_store_mcast_queue_push(struct lg_store *s, int64_t id, int f_port,
                                            const uint8_t *data, size_t len, int64_t now_ns);
/* Pops the oldest queued group downlink of any group (LG_ENOTFOUND when none). */
LG_STORE_MUST int lg_store_mcast_queue_pop(struct lg_store *s, int64_t *id, int *f_port,
                                           uint8_t *data, size_t cap, size_t *len);
/* {"items": [{"id", "name", "mc_addr", "f_cnt", "frequency", "dr"}]}, and one group with its
 * "devices" (NULL when unknown). Keys are never shown. */
/* (a page in id order, after_id the cursor) */
struct json_t *lg_store_mcasts_json(struct lg_store *s, int64_t after_id, int limit);
struct json_t *lg_store_mcast_json(struct lg_store *s, int64_t id);

/* ---- applications, device profiles, API keys (store_apps.c) ---------------------- */

/* An application: devices belong to one. Id 1 is the default application, made by the
 * migration that introduced them: it holds the devices provisioned before, and those
 * provisioned without one. */
struct lg_app_rec {
  int64_t id;
  char name[64];
  char description[256];
};
/* Inserts (a->id 0: its new id set) or updates (a->id given; LG_ENOTFOUND when unknown). */
LG_STORE_MUST int lg_store_app_put(struct lg_store *s, struct lg_app_rec *a, int64_t now_ns);
LG_STORE_MUST int lg_store_app_get(struct lg_store *s, int64_t id, struct lg_app_rec *a);
/* LG_EBUSY (with its device count in *devices) while devices belong to it; LG_ENOTFOUND.
 * Its API keys are revoked (at now_ns). */
LG_STORE_MUST int lg_store_app_delete(struct lg_store *s, int64_t id, int64_t now_ns,
                                      int64_t *devices);
/* {"id", "name", "description", "devices", "created_ns"}; a page ordered by id (after_id:
 * the cursor; only_id > 0: that application alone), or one (NULL when unknown). */
struct json_t *lg_store_apps_json(struct lg_store *s, int64_t only_id, int64_t after_id, int limit);
struct json_t *lg_store_app_json(struct lg_store *s, int64_t id);

/* A device profile: what a kind of device is and how the server treats it. Its devices
 * take adr_algorithm, class and reference from it unless they set their own (struct
 * lg_device_rec's inherit); a change applies from their next uplink. */
struct lg_profile_rec {
  int64_t id;
  char name[64];
  char region[16];      /* a region name (lg_region_find) */
  bool class_c;         /* else Class A */
  char mac_version[16]; /* 1.0.0 .. 1.1.0 */
  char adr_algorithm[16]; /* off | standard | eadr | predictive */
  bool has_adr_margin;
  double adr_margin_db; /* ADR's installation margin for its devices (else [adr]'s) */
  bool has_adr_target;
  double adr_target; /* predictive's delivery target for its devices (else [adr]'s) */
  int uplink_interval_s; /* expected; 0: not said */
  char payload_codec[64];  /* a codec's name ("": none) */
  bool reference;
  int max_uplinks_per_day, max_downlinks_per_day; /* 0: no limit */
};
LG_STORE_MUST int lg_store_profile_put(struct lg_store *s, struct lg_profile_rec *p, int64_t now_ns);
LG_STORE_MUST int lg_store_profile_get(struct lg_store *s, int64_t id, struct lg_profile_rec *p);
/* LG_EBUSY (count in *devices) while devices use it; LG_ENOTFOUND. */
LG_STORE_MUST int lg_store_profile_delete(struct lg_store *s, int64_t id, int64_t *devices);
struct json_t *lg_store_profiles_json(struct lg_store *s, int64_t after_id, int limit);
struct json_t *lg_store_profile_json(struct lg_store *s, int64_t id);

/* An application's webhook: its devices' events POSTed to url (integ/webhook.c). headers
 * as "Name: value" pairs separated by '|', events comma-separated ("": all). */
struct lg_webhook_rec {
  int64_t id, application_id;
  char url[512];
  char headers[1024];
  char events[256];
  bool chirpstack; /* the body in ChirpStack's JSON, else lorageo's */
};
LG_STORE_MUST int lg_store_webhook_add(struct lg_store *s, struct lg_webhook_rec *w, int64_t now_ns);
/* LG_ENOTFOUND when the application has no such webhook. */
LG_STORE_MUST int lg_store_webhook_delete(struct lg_store *s, int64_t application_id, int64_t id);
/* Every application's webhooks (up to cap). */
LG_STORE_MUST int lg_store_webhooks_all(struct lg_store *s, struct lg_webhook_rec *out, size_t cap,
                                        size_t *n);
/* {"items": [{"id", "application_id", "url", "headers": {...}, "events": [...], "format"}]} */
struct json_t *lg_store_webhooks_json(struct lg_store *s, int64_t application_id);
struct json_t *lg_store_webhook_json(struct lg_store *s, int64_t id);
/* Bumped (process-wide) whenever a webhook is added or removed: the integration reloads. */
unsigned lg_store_webhooks_generation(void);

/* An API key: admin (application_id 0) or one application's, read-only or read-write.
 * Only its SHA-256 (lg_store_token_hash) is kept. */
struct lg_apikey_rec {
  int64_t id;
  char name[64];
  int64_t application_id;
  bool read_only;
  char key_hash[65];
  int64_t created_ns, revoked_ns; /* revoked_ns 0: in force */
};
LG_STORE_MUST int lg_store_apikey_add(struct lg_store *s, struct lg_apikey_rec *k, int64_t now_ns);
/* The key in force whose hash this is; LG_ENOTFOUND when none (or revoked). */
LG_STORE_MUST int lg_store_apikey_find(struct lg_store *s, const char *key_hash,
                                       struct lg_apikey_rec *k);
/* LG_ENOTFOUND when unknown or revoked already. */
LG_STORE_MUST int lg_store_apikey_revoke(struct lg_store *s, int64_t id, int64_t now_ns);
/* {"id", "name", "application_id" (null: admin), "read_only", "created_ns", "revoked_ns"}:
 * never the key nor its hash. */
struct json_t *lg_store_apikeys_json(struct lg_store *s, int64_t after_id, int limit);
struct json_t *lg_store_apikey_json(struct lg_store *s, int64_t id);

/* ---- paged lists, device updates, the queue (store_pages.c) ----------------------- */

/* Which devices a list holds (0 / "": any). Seen: last uplink at or after / before;
 * lifecycle: a state's name; tag: devices with tag_key = tag_value. */
struct lg_device_filter {
  int64_t application_id, profile_id;
  int64_t seen_after_ns, seen_before_ns;
  const char *search; /* a part of the DevEUI (hex) or of the name, any case (NULL: none) */
  char lifecycle[16];
  char tag_key[33], tag_value[65];
};
/* A page of devices in DevEUI order after *after (NULL: from the first; a DevEUI of 0 is a
 * device like any other), {"items", "next"}. */
struct json_t *lg_store_devices_page_json(struct lg_store *s, const struct lg_device_filter *f,
                                          const uint64_t *after, int limit);
/* search: a part of the gateway EUI (hex) or of the name, any case (NULL: every gateway). */
struct json_t *lg_store_gateways_page_json(struct lg_store *s, const uint64_t *after, int limit,
                                           const char *search);
/* Writes what a PATCH may change (name, adr, class, reference, fcnt_resets_allowed,
 * application, profile, inherit) and keeps keys, counters and what the device learnt. */
LG_STORE_MUST int lg_store_device_update(struct lg_store *s, const struct lg_device_rec *d);
/* The device's queue, oldest first: {"items": [{"id", "f_port", "data", "confirmed",
 * "created_ns"}], "next"}. */
struct json_t *lg_store_queue_json(struct lg_store *s, uint64_t dev_eui, int64_t after_id,
                                   int limit);
/* Empties the device's queue; how many were removed in *n. */
LG_STORE_MUST int lg_store_queue_flush(struct lg_store *s, uint64_t dev_eui, int64_t *n);
/* Application downlinks sent since since_ns plus those queued (a profile's daily limit). */
LG_STORE_MUST int lg_store_downlinks_count(struct lg_store *s, uint64_t dev_eui, int64_t since_ns,
                                           int64_t *n);
LG_STORE_MUST int lg_store_uplinks_count(struct lg_store *s, uint64_t dev_eui, int64_t since_ns,
                                         int64_t *n);

/* A confirmed downlink that is not acknowledged: nacked. */
struct lg_store_nack {
  uint64_t dev_eui;
  uint32_t f_cnt;
};
/* An uplink without ACK from the device: each of its confirmed downlinks awaiting an ACK
 * counts it, and those that counted `max_uplinks` are nacked (up to cap into out, *n). */
LG_STORE_MUST int lg_store_downlink_unacked_uplink(struct lg_store *s, uint64_t dev_eui,
                                                   int max_uplinks, int64_t now_ns,
                                                   struct lg_store_nack *out, size_t cap,
                                                   size_t *n);
/* Confirmed downlinks of any device awaiting an ACK since before `sent_before_ns`: nacked
 * (up to cap into out, *n). */
LG_STORE_MUST int lg_store_downlinks_expire(struct lg_store *s, int64_t sent_before_ns,
                                            int64_t now_ns, struct lg_store_nack *out,
                                            size_t cap, size_t *n);

/* ---- the fleet: inventory, life cycle, alarms, configuration shadow (store_fleet.c) ---- */

#define LG_TAGS_MAX 16
/* What the inventory says of a device besides its LoRaWAN identity. */
struct lg_inventory {
  int n_tags;
  struct {
    char key[33], value[65];
  } tags[LG_TAGS_MAX];
  char hardware[64], firmware[64];
};
/* Writes the device's tags, hardware and firmware (tags replaced as a whole); with
 * provisioned_ns > 0 also its provisioning date. LG_ENOTFOUND when no such device. */
LG_STORE_MUST int lg_store_inventory_set(struct lg_store *s, uint64_t dev_eui,
                                         const struct lg_inventory *inv, int64_t provisioned_ns);

/* provisioned -> active (first uplink) -> silent (quiet for its expected intervals) ->
 * active again, or retired (by the operator). */
enum lg_lifecycle { LG_LC_PROVISIONED, LG_LC_ACTIVE, LG_LC_SILENT, LG_LC_RETIRED, LG_LC_COUNT };
const char *lg_lifecycle_name(int state);
int lg_lifecycle_parse(const char *name); /* -1 when unknown */
/* Moves the device to `state` at t_ns (its date for that state written). */
LG_STORE_MUST int lg_store_lifecycle_set(struct lg_store *s, uint64_t dev_eui, int state,
                                         int64_t t_ns);
LG_STORE_MUST int lg_store_lifecycle_get(struct lg_store *s, uint64_t dev_eui, int *state);
/* Bumped (process-wide) by every lg_store_lifecycle_set: caches of states know they are stale. */
unsigned lg_store_lifecycle_generation(void);

/* A profile's alarm thresholds (JSON object text; "{}" when none): new reference in *out. */
LG_STORE_MUST int lg_store_profile_thresholds_get(struct lg_store *s, int64_t profile_id,
                                                  struct json_t **out);
LG_STORE_MUST int lg_store_profile_thresholds_set(struct lg_store *s, int64_t profile_id,
                                                  const struct json_t *thresholds);

struct lg_alarm_rec {
  char kind[24];
  char subject_type[12]; /* device | gateway | dev_addr */
  char subject[17];      /* EUI or DevAddr in hex */
  int64_t t_ns;
  double value, threshold;
  char detail[200];
};
/* Opens an alarm (or, when one of this kind and subject is open, counts the raise again
 * on it); its id in *id. */
LG_STORE_MUST int lg_store_alarm_raise(struct lg_store *s, const struct lg_alarm_rec *a,
                                       int64_t *id);
/* Closes the open alarm of this kind and subject (LG_ENOTFOUND when none). */
LG_STORE_MUST int lg_store_alarm_clear(struct lg_store *s, const struct lg_alarm_rec *a);
/* Closes every open alarm (a server starting again evaluates afresh); how many in *n. */
LG_STORE_MUST int lg_store_alarms_close_all(struct lg_store *s, int64_t t_ns, const char *why,
                                            int64_t *n);
struct lg_alarm_filter {
  bool open_only, unacked_only;
  char kind[24], subject[17];
};
/* A page newest first ({"items", "next"}); each {"id", "kind", "subject_type", "subject",
 * "raised_ns", "cleared_ns", "open", "value", "threshold", "detail", "clear_detail",
 * "raises", "acknowledged", "acked_ns", "acked_by", "ack_note"}. */
struct json_t *lg_store_alarms_json(struct lg_store *s, const struct lg_alarm_filter *f,
                                    int64_t before_id, int limit);
struct json_t *lg_store_alarm_json(struct lg_store *s, int64_t id);
/* An operator acknowledges an alarm. LG_ENOTFOUND; LG_EEXIST when acknowledged already. */
LG_STORE_MUST int lg_store_alarm_ack(struct lg_store *s, int64_t id, int64_t t_ns,
                                     const char *by, const char *note);

/* A device's configuration shadow: desired and reported (JSON objects, new references),
 * pending since (0: in sync) and last change. Empty objects and 0 when it has none. */
LG_STORE_MUST int lg_store_shadow_get(struct lg_store *s, uint64_t dev_eui, struct json_t **desired,
                                      struct json_t **reported, int64_t *pending_since_ns,
                                      int64_t *updated_ns);
/* Writes what is given (NULL: kept); pending_since_ns -1: kept, 0: in sync. */
LG_STORE_MUST int lg_store_shadow_put(struct lg_store *s, uint64_t dev_eui,
                                      const struct json_t *desired, const struct json_t *reported,
                                      int64_t pending_since_ns, int64_t now_ns);
/* Bumped (process-wide) when a desired state is written: the packet path re-reads. */
unsigned lg_store_shadow_generation(void);
LG_STORE_MUST int lg_store_shadow_history_add(struct lg_store *s, uint64_t dev_eui,
                                              const char *field, const char *value,
                                              const char *action, const char *detail,
                                              int64_t t_ns);
/* Newest first: {"items": [{"id", "field", "value", "action", "detail", "time_ns"}], "next"}. */
struct json_t *lg_store_shadow_history_json(struct lg_store *s, uint64_t dev_eui,
                                            int64_t before_id, int limit);
/* The fleet at a glance: {"devices", "lifecycle": {state: n}, "alarms_open": {kind: n},
 * "config": {"in_sync", "pending"}, "attention": [device...], "attention_total"}. The
 * devices needing attention are those not retired that are silent, have an open alarm or a
 * configuration pending: the first `attention` by DevEUI, each as lg_store_fleet_devices_json
 * gives it. NULL when storage fails. */
struct json_t *lg_store_fleet_summary_json(struct lg_store *s, int attention);
/* Every device's health, a page by DevEUI after `after` (0: from the first): {"items":
 * [{"dev_eui", "name", "lifecycle", "last_seen_ns", "battery", "alarms": [open kinds],
 * "config_pending_since_ns", "health"}], "next"}. health: retired, alarm (an open alarm or
 * silent), pending (configuration), provisioned (never heard) or ok, the first that holds. */
struct json_t *lg_store_fleet_devices_json(struct lg_store *s, const uint64_t *after, int limit);

/* Where a page of a timeline ended: time, source, id (lg_store_timeline_json's "next"). */
struct lg_timeline_cursor {
  int64_t t_ns;
  int src;
  int64_t id;
};
/* "time.source.id" into *c; LG_EINVAL when it is not one. */
int lg_store_timeline_cursor_parse(const char *text, struct lg_timeline_cursor *c);
/* A device's timeline, newest first, below `from` (NULL: from the newest): its joins and
 * frame-counter resets (events), configuration changes (shadow history), alarms raised,
 * cleared and acknowledged, and the latest entry into each life-cycle state. {"items":
 * [{"time_ns", "kind": join|reset|config|alarm|lifecycle, "action", "detail", ...}],
 * "next": cursor text or null}; config entries add "field", "value"; alarm entries
 * "alarm_id", "alarm_kind", "raises", "open", "acknowledged"; join and reset "data" (the
 * event's payload). NULL when storage fails. */
struct json_t *lg_store_timeline_json(struct lg_store *s, uint64_t dev_eui,
                                      const struct lg_timeline_cursor *from, int limit);

/* ---- keys at rest (store/kek.h) --------------------------------------------------- */

struct lg_kek;
/* Device keys are wrapped with `k` from now on (and unwrapped on read). The first KEK a
 * database sees is recorded by a check value; another one is refused (LG_ECRYPTO, with
 * the reason). The KEK is copied. */
LG_STORE_MUST int lg_store_use_kek(struct lg_store *s, const struct lg_kek *k, char *why,
                                   size_t why_len);
/* 1 when this database's keys are wrapped (a KEK is needed to read them), 0 when not. */
LG_STORE_MUST int lg_store_kek_required(struct lg_store *s);
/* dst wraps and unwraps keys with src's KEK (none when src has none): another connection of
 * the same server. */
void lg_store_share_kek(struct lg_store *dst, const struct lg_store *src);
/* Wraps every key still stored in clear (after lg_store_use_kek); *n devices rewritten. */
LG_STORE_MUST int lg_store_wrap_keys(struct lg_store *s, size_t *n);

#endif
