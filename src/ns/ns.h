/*
 * ns — the network server's packet path: gateways' datagrams in, de-duplication that
 * keeps every reception (late copies included), device sessions (ABP and OTAA join),
 * frame counters, MIC and decryption, MAC commands, the geolocation hook, and Class A
 * downlinks (ACKs, MAC answers, queued data, join-accepts) through the best gateway.
 *
 * The state lives in one struct lg_ns driven from one thread (the event loop): the UDP
 * layer calls lg_ns_datagram(), a timer calls lg_ns_tick() to close de-duplication
 * windows. Time and sending come in through struct lg_ns_io, so tests drive the server
 * with their own clock and capture what it sends. The database is the source of truth
 * for devices and counters (see store.h); metrics are atomics read by the HTTP thread.
 */
#ifndef LG_NS_H
#define LG_NS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fleet/alarms.h"
#include "ns/config.h"

struct lg_store;
struct lg_gw_dl;

/* A downlink queue item: {"f_port": 1..223, "data": base64, "confirmed": bool}, as
 * POST /api/devices/{dev_eui}/queue and MQTT command/down take it. */
struct lg_queue_item {
  int f_port;
  uint8_t data[242];
  size_t len;
  bool confirmed;
};
/* LG_EINVAL with a reason naming the field when b is not such an item. */
int lg_queue_item_parse(const json_t *b, struct lg_queue_item *q, char *why, size_t why_len);

struct lg_ns_io {
  void *ctx;
  int64_t (*now_ns)(void *ctx); /* Unix time, ns */
  void (*send)(void *ctx, const struct sockaddr *to, socklen_t to_len, const uint8_t *buf,
               size_t len);
  /* Bumped by the API whenever a gateway is written (NULL: none); the server re-reads its
   * gateways when it changes, so positions and timing offsets apply to the next frame. */
  const atomic_uint *gateways_changed;
  /* Each device event (up, join, location, ack, adr) as it is recorded (NULL: none); the
   * callee takes the payload. MQTT publishes them. */
  void (*on_event)(void *ctx, uint64_t dev_eui, const char *type, json_t *payload);
  void *event_ctx; /* on_event's ctx (NULL: ctx) */
  /* Reads and answers the datagrams waiting on the gateways' socket (NULL: none): called
   * between the slices of a tick that works off a backlog, so a PUSH_DATA is acknowledged
   * while storage is busy, not after it. */
  void (*poll)(void *ctx);
  /* A downlink for a gateway connected over LoRa Basics Station (NULL: none; ns/station.c
   * serves it): 0 when it was handed to the gateway's connection, negative when that
   * gateway has none. The request carries RX1 and RX2 (Class A) or only RX2 ("send now",
   * Class C); the station schedules the window itself. */
  int (*gw_send)(void *ctx, uint64_t gateway_eui, const struct lg_gw_dl *dl);
  void *gw_ctx; /* gw_send's ctx */
};

/* Why a datagram or a reception was not used; the metrics' reason labels. */
enum lg_drop {
  LG_DROP_SHORT,
  LG_DROP_VERSION,
  LG_DROP_TYPE,
  LG_DROP_ZERO_EUI,
  LG_DROP_JSON,
  LG_DROP_UNKNOWN_GATEWAY,
  LG_DROP_RXPK,
  LG_DROP_CRC,
  LG_DROP_PHY,
  LG_DROP_MTYPE,
  LG_DROP_UNKNOWN_DEVICE,
  LG_DROP_MIC,
  LG_DROP_REPLAY,
  LG_DROP_DEVNONCE,
  LG_DROP_STORE,
  LG_DROP_FREQUENCY, /* not an uplink frequency of the region */
  LG_DROP_DATA_RATE, /* spreading factor / bandwidth not an uplink data rate of the region */
  LG_DROP_GATEWAY_ADDRESS, /* a provisioned gateway's EUI from another address than its own */
  LG_DROP_GATEWAY_NETWORK, /* a datagram from outside [security] gateway_networks */
  LG_DROP_COUNT
};

/* Work given up when a cap is reached; the metrics' reason labels (lg_shed_name). */
enum lg_shed {
  LG_SHED_UNKNOWN_DEVICE, /* a new frame of an unknown DevAddr / DevEUI while frames are many */
  LG_SHED_MIC,            /* a new frame whose MIC fails while frames are many */
  LG_SHED_OPEN_FRAMES,    /* a new frame of a known device with max_open_frames reached */
  LG_SHED_LATE_HORIZON,   /* a stored frame forgotten early (its late copies not attached) */
  LG_SHED_UNKNOWN_GATEWAY, /* an unprovisioned gateway's entry evicted */
  LG_SHED_COUNT
};

enum lg_dl_result {
  LG_DL_SENT,
  LG_DL_OK,
  LG_DL_TOO_LATE,
  LG_DL_ERROR,
  LG_DL_NO_GATEWAY,
  LG_DL_DUTY_CYCLE, /* refused: it would break the sub-band's duty cycle */
  LG_DL_RETRIED,    /* sent again in RX2 or through another gateway after a TX_ACK error */
  LG_DL_ACK_LIMIT,  /* not sent: the frame's retransmissions had their NbTrans ACKs already */
  LG_DL_DWELL_TIME, /* not sent: longer than the region's 400 ms dwell time in every window */
  LG_DL_COUNT
};

/* Upper bounds (m) of the accuracy histogram's buckets; the last one is +Inf. */
#define LG_NS_ACCURACY_BUCKETS 9
extern const double lg_ns_accuracy_bounds_m[LG_NS_ACCURACY_BUCKETS - 1];

struct lg_ns_metrics {
  struct lg_geo_live *live; /* reference accuracy figures (lg_geo_live_accuracy is thread-safe) */
  atomic_uint_fast64_t reference_payload_errors; /* reference uplinks without a position */
  atomic_uint_fast64_t gateway_moves; /* gateways whose pinned source address moved */
  /* datagrams whose body was taken up (parsed and acted on, or left to the journal): with
   * the datagram-level drops they account for every datagram (tests/fuzz/fuzz_ns.c) */
  atomic_uint_fast64_t datagrams_handled;
  atomic_uint_fast64_t datagrams;
  atomic_uint_fast64_t dropped[LG_DROP_COUNT];
  atomic_uint_fast64_t receptions;
  atomic_uint_fast64_t timing_outliers; /* receptions kept out of a fix for their timing */
  atomic_uint_fast64_t dwell_uplinks;   /* uplinks on air longer than the dwell time */
  atomic_uint_fast64_t queue_discarded; /* queued downlinks larger than the DR allows */
  atomic_uint_fast64_t uplinks;         /* de-duplicated device uplinks accepted */
  atomic_uint_fast64_t duplicates;      /* copies folded into an open window */
  atomic_uint_fast64_t late_copies;     /* copies attached after the window */
  atomic_uint_fast64_t retransmissions; /* same FCnt again (NbTrans or a lost ACK) */
  atomic_uint_fast64_t joins;
  atomic_uint_fast64_t class_c_downlinks;      /* sent at once to Class C devices */
  atomic_uint_fast64_t multicast_downlinks;    /* group frames sent */
  atomic_uint_fast64_t multicast_transmissions; /* ... counted per gateway that sent one */
  atomic_uint_fast64_t downlinks[LG_DL_COUNT];
  atomic_uint_fast64_t locations[LG_GEO_METHOD_COUNT];                      /* by lg_geo_method */
  atomic_uint_fast64_t accuracy_le[LG_NS_ACCURACY_BUCKETS]; /* fixes with accuracy <= bound */
  atomic_uint_fast64_t accuracy_sum_mm;                     /* for the histogram's _sum */
  atomic_uint_fast64_t adr_decisions[2];                    /* no change, change */
  atomic_uint_fast64_t adr_link_cells;   /* (gateway, cell) pairs of the link map */
  atomic_uint_fast64_t adr_link_refused; /* new pairs not learned for the cap */
  atomic_uint_fast64_t adr_link_uplinks; /* uplinks of static devices it learned from */
  atomic_uint_fast64_t adr_link_save_errors; /* [adr] learned writes that failed */
  struct lg_ns_links *links; /* what ADR learned of the links, for the API (lg_ns_link_cells) */
  atomic_uint_fast64_t open_windows;
  atomic_uint_fast64_t dup_same_gateway; /* a gateway's second copy of a frame: not kept */
  atomic_uint_fast64_t shed[LG_SHED_COUNT]; /* work given up under a cap, by reason */
  atomic_uint_fast64_t unknown_gateways;    /* unprovisioned EUIs held now */
  /* [server] journal */
  atomic_uint_fast64_t journal_records;  /* datagrams journalled */
  atomic_uint_fast64_t journal_errors;   /* appends or syncs that failed (not acknowledged) */
  atomic_uint_fast64_t journal_replayed; /* records run again (recovery, catching up) */
  atomic_uint_fast64_t journal_skipped;  /* their frames found stored already (or joins) */
  atomic_uint_fast64_t journal_bytes;    /* size of the segments now */
  atomic_uint_fast64_t journal_lag;      /* records journalled but not yet stored */
  /* storage */
  atomic_uint_fast64_t store_errors; /* failed writes and commits */
  atomic_uint_fast64_t store_down;   /* 1 while storage fails (/api/health answers 503) */
  _Atomic(const char *) store_reason; /* why, while it fails (a static string) */
  /* [cluster] redis */
  atomic_uint_fast64_t cluster_recovered; /* frames of a silent instance processed here */
  atomic_uint_fast64_t cluster_dl_out;    /* downlinks handed to a gateway's holder */
  atomic_uint_fast64_t cluster_dl_in;     /* downlinks sent here for another instance */
  /* The MQTT integration (integ/mqtt.c writes them when [mqtt] url is set). */
  atomic_uint_fast64_t mqtt_published;   /* events handed to the broker connection */
  atomic_uint_fast64_t mqtt_waiting;     /* events waiting for the broker now */
  atomic_uint_fast64_t mqtt_dropped;     /* events lost: the waiting queue was full */
  atomic_uint_fast64_t mqtt_commands[2]; /* command/down: refused, enqueued */
  atomic_uint_fast64_t mqtt_connected;   /* 1 while connected */
  /* The integration's queue, payload codecs and webhooks (integ/) */
  atomic_uint_fast64_t integ_dropped;       /* events lost: the integration queue was full */
  atomic_uint_fast64_t codec_decoded;       /* uplinks decoded by their device's codec */
  atomic_uint_fast64_t uplinks_over_limit; /* past a profile's max_uplinks_per_day (kept) */
  atomic_uint_fast64_t codec_errors;        /* uplinks whose codec failed (a log event each) */
  atomic_uint_fast64_t webhook_requests[2]; /* POSTs: failed (retried or dropped), 2xx */
  atomic_uint_fast64_t webhook_sent;        /* events delivered */
  atomic_uint_fast64_t webhook_dropped[2];  /* events lost: queue full (or at exit), attempts */
  atomic_uint_fast64_t webhook_waiting;     /* events waiting now */
  /* [basicstation] (ns/station.c writes them when a bind is set) */
  atomic_uint_fast64_t station_connected;     /* traffic connections open now */
  atomic_uint_fast64_t station_messages[8];   /* by lg_station_type (gw.h) */
  atomic_uint_fast64_t station_malformed;     /* messages refused (bad JSON or fields) */
  atomic_uint_fast64_t station_refused;       /* connections refused: token, certificate, EUI */
  atomic_uint_fast64_t station_router_info;   /* /router-info discoveries answered */
  atomic_uint_fast64_t station_dnmsg;         /* dnmsg sent */
  atomic_uint_fast64_t station_dntxed;        /* of those, confirmed sent by the station */
  /* the fleet's alarms (ns/fleet.c), by lg_alarm_kind */
  atomic_uint_fast64_t alarms_raised[LG_ALARM_KIND_COUNT];
  atomic_uint_fast64_t alarms_cleared[LG_ALARM_KIND_COUNT];
  atomic_uint_fast64_t alarms_open[LG_ALARM_KIND_COUNT];
};

const char *lg_drop_name(enum lg_drop d);
const char *lg_dl_result_name(enum lg_dl_result r);
const char *lg_shed_name(enum lg_shed s);

struct lg_ns;

/* A new server over `store` (borrowed, used from the loop thread only). NULL on error
 * with a reason. */
struct lg_ns *lg_ns_new(const struct lg_config *cfg, struct lg_store *store,
                        const struct lg_ns_io *io, char *why, size_t why_len);
void lg_ns_free(struct lg_ns *ns);

/* One datagram from `from`. Never fails: every problem is counted and logged. */
void lg_ns_datagram(struct lg_ns *ns, const struct sockaddr *from, socklen_t from_len,
                    const uint8_t *buf, size_t len);

/* The end of a batch of datagrams: the journal is synced (one fdatasync for the batch) and
 * ([cluster]) their copies go to Redis in one round trip. The transport holds the batch's
 * answers until this returns: 0, send them (a PUSH_ACK then means the datagram is on
 * disk); LG_EIO, the journal failed: send no PUSH_ACK of the batch. */
int lg_ns_flush(struct lg_ns *ns);

/* The journal synced on a thread of its own (journal.h): lg_ns_flush_request() writes the
 * batch and asks for its sync without waiting; the transport holds a PUSH_ACK until
 * lg_ns_journal_synced() reaches the number lg_ns_journal_seq() gave when it was made, and
 * drops it when that number is in the range (from, to] of lg_ns_journal_failed(). `notify` is called from the syncer's thread
 * after each sync (NULL: stop the thread). Without a journal everything counts as synced. */
int lg_ns_journal_async(struct lg_ns *ns, void (*notify)(void *ctx), void *ctx);
int lg_ns_flush_request(struct lg_ns *ns);
uint64_t lg_ns_journal_seq(const struct lg_ns *ns);
uint64_t lg_ns_journal_synced(const struct lg_ns *ns);
void lg_ns_journal_failed(const struct lg_ns *ns, uint64_t *from, uint64_t *to);

/* Before serving: frames journalled after the checkpoint (not known to be stored) are run
 * through the pipeline again, with their journalled receive times; frames already stored
 * are recognised (de-duplication, frame counter) and not stored again; none is answered.
 * Done a slice at a time from lg_ns_tick (the socket is read meanwhile); this starts it.
 * Returns the number of records to catch up. */
uint64_t lg_ns_recover(struct lg_ns *ns);
/* Whether the server is still catching up from its journal. */
bool lg_ns_catching_up(const struct lg_ns *ns);

/* `lorageo replay`: every record of the journal directory `dir` after `after_seq`, run
 * through the pipeline into the store, at once. 0, or LG_EIO / LG_ENOTFOUND with a reason. */
struct lg_ns_replay_stats {
  uint64_t records, damaged;
};
int lg_ns_replay(struct lg_ns *ns, const char *dir, uint64_t after_seq,
                 struct lg_ns_replay_stats *st, char *why, size_t why_len);

/*
 * LoRa Basics Station (ns/station.c), on the loop thread. A traffic connection of gateway
 * `eui` came up or went down: while up, downlinks through it go to io.gw_send.
 */
void lg_ns_station_link(struct lg_ns *ns, uint64_t eui, bool up);
/* Whether `eui` is a provisioned gateway (read from the store as for UDP). */
bool lg_ns_gateway_known(struct lg_ns *ns, uint64_t eui);
/* A provisioned gateway's station token hash (lg_store_token_hash; "" when it has none).
 * 0, LG_ENOTFOUND (not provisioned) or LG_EIO. */
int lg_ns_gateway_token(struct lg_ns *ns, uint64_t eui, char hash[65]);
/* A station's reception as the PUSH_DATA datagram lg_station_push_datagram builds: journalled
 * and handled as a UDP gateway's (de-duplication, sessions, storage, locating), without UDP's
 * source-address pinning and PUSH_ACK (the connection is authenticated). */
void lg_ns_station_datagram(struct lg_ns *ns, const uint8_t *buf, size_t len);
/* A station's dntxed: downlink `diid` went out (a TX_ACK without error). */
void lg_ns_station_txed(struct lg_ns *ns, uint64_t eui, int64_t diid);

/* A clean stop: the socket is no longer read; every open de-duplication window is closed
 * now and its frame stored, the journal's checkpoint written. Returns the frames drained. */
size_t lg_ns_drain(struct lg_ns *ns);

/* Closes the de-duplication windows that have run out and forgets old ones. */
void lg_ns_tick(struct lg_ns *ns);

/* The counters (valid as long as ns). */
struct lg_ns_metrics *lg_ns_metrics(struct lg_ns *ns);

/* What ADR learned of one gateway's links (adr/linkmap.c), for the API: each cell it learned,
 * its centre, what was heard and missed there, and its law when it has enough
 * (level_db: the mean of RSSI - TX power, sigma_db its spread). Thread-safe. */
struct lg_ns_link_cell {
  double lat_deg, lon_deg;
  uint32_t heard;
  double missed;
  bool has_law;
  double level_db, sigma_db;
};
/* At most cap cells of gateway_eui into out; returns how many it has in all; *cell_m: the
 * cells' size (0 with no map). */
size_t lg_ns_link_cells(struct lg_ns_links *l, uint64_t gateway_eui, struct lg_ns_link_cell *out,
                        size_t cap, double *cell_m);

#endif
