/* Internal to ns/: the server's state shared by ns.c, uplink.c and downlink.c. */
#ifndef LG_NS_INT_H
#define LG_NS_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <uthash.h>

#include "adr/adr.h"
#include "geo/geo.h"
#include "gw/gw.h"
#include "lora/lora.h"
#include "lorawan/lorawan.h"
#include "ns/dutycycle.h"
#include "ns/ns.h"
#include "store/store.h"

/* A gateway the server has heard: where its downlink path (PULL_DATA) comes from. */
struct ns_gateway {
  uint64_t eui;
  bool known;         /* provisioned in the database */
  int64_t checked_ns; /* when `known` was last read from the database */
  bool has_pull;
  bool station; /* a Basics Station traffic connection is up: downlinks go through io.gw_send */
  struct sockaddr_storage pull_addr;
  socklen_t pull_len;
  uint8_t version;
  bool has_position;
  bool position_from_gateway; /* its stat positions move it (else only fill a missing one) */
  double lat_deg, lon_deg, alt_m;
  double timing_offset_ns; /* provisioned fixed delay of its receive times */
  int64_t seen_written_ns; /* last-seen goes to the database at most every 10 s */
  int rx_unwritten;        /* packets counted since */
  struct lg_dutycycle *dc; /* downlink airtime per sub-band, made on the first downlink */
  int64_t announced_ns;    /* [cluster]: when this instance last said it holds the PULL path */
  /* The host it sends from (IP address, any port: a forwarder's up and down sockets and a
   * restarted forwarder's new ones all share it), pinned at its first datagram; a move is
   * only accepted when the new host keeps sending for [security] gateway_move_after_s with
   * nothing from the old one meanwhile (ns.c, address_ok) */
  struct ns_pin {
    struct sockaddr_storage addr, cand;
    bool set;
    int64_t cand_since_ns; /* 0: no candidate */
  } pin;
  bool unknown_listed;                            /* on the unprovisioned list */
  struct ns_gateway *unknown_prev, *unknown_next; /* (least recently checked first) */
  UT_hash_handle hh;
};

/* One gateway's reception of a frame, as kept by de-duplication. */
struct ns_rx {
  uint64_t gateway_eui;
  uint64_t seq; /* the datagram it came in (journal sequence number, or a local count) */
  struct lg_gw_rxpk rxpk;
  int64_t received_ns;
};

/* All copies of one frame: PHYPayload + frequency + data rate. Room for NS_RX_INLINE
 * receptions is in the frame (~3.2 KB: most frames are heard by a few gateways); a frame
 * heard by more moves its receptions to the heap (room doubled as needed, at most
 * LG_GEO_MAX_RX; one gateway gives one reception, so that is bounded by the gateways). */
enum { NS_RX_INLINE = 4 };
struct ns_frame {
  uint8_t key[4 + 4 + 256]; /* freq, sf|bw, phy */
  size_t key_len;
  int64_t first_ns, deadline_ns, forget_ns;
  bool processed;
  bool remote;       /* another instance owns it: copies are handed over, not processed */
  bool recovered;    /* picked up from an instance that died before processing it */
  bool from_journal; /* run again from the journal: stored already, or never answered */
  uint64_t first_seq; /* the datagram that opened it */
  size_t taken;      /* the owner: copies taken from the other instances so far */
  int64_t uplink_id; /* stored uplink, for late copies (0: none) */
  uint64_t ticket;   /* with storage behind: the uplink queued for writing (0: none) */
  uint64_t dev_eui;
  uint32_t f_cnt;
  size_t n, cap;
  struct ns_rx *rx; /* rx_inline, or a heap array of cap */
  struct ns_rx rx_inline[NS_RX_INLINE];
  struct ns_frame *next_free; /* on the free list */
  struct ns_frame *next;      /* in creation order (= deadline order: the window is fixed) */
  UT_hash_handle hh;
};

/* A ready AES key (its OpenSSL contexts made once): session and app keys are used for
 * every frame of a device, and creating contexts costs more than the crypto itself. */
struct ns_key {
  uint8_t bytes[16];
  struct lg_key key;
  UT_hash_handle hh;
};

/* One gateway that may carry a downlink: its RX1 and RX2 transmissions (its own tmst). */
enum { NS_DL_CANDIDATES = 4 };
struct ns_dl_path {
  uint64_t gateway_eui;
  uint64_t holder; /* [cluster]: the instance holding its PULL path; 0: this one */
  bool has_rx1, has_rx2;
  struct lg_gw_txpk rx1, rx2;
  /* for a Basics Station: the uplink's xtime/rctx, the windows' data rates and delays */
  bool has_xtime;
  int64_t xtime, rctx;
  int rx1_dr, rx2_dr, rx1_delay_s, rx2_delay_s;
};

/* A downlink waiting for its TX_ACK, with the paths still untried: the gateways that heard
 * the uplink, best link margin first, each with RX1 and RX2. */
struct ns_pending {
  uint16_t token;
  int path;    /* index into paths of the attempt in flight */
  bool in_rx2; /* the attempt in flight is RX2 */
  int n_paths;
  struct ns_dl_path paths[NS_DL_CANDIDATES];
  uint8_t data[256];
  uint64_t dev_eui; /* the device it goes to (Basics Station's dnmsg names it) */
  bool has_f_cnt;   /* a data downlink: its FCntDown, for the txack event */
  uint32_t f_cnt;
  int64_t sent_ns;
  UT_hash_handle hh;
};

/* The ACKs given to a device's last confirmed uplink (LoRaWAN: a retransmission of it, the
 * same FCnt, is answered again, at most NbTrans times in all; an older frame never). */
struct ns_acked {
  uint64_t dev_eui;
  uint32_t f_cnt;
  int acks;
  UT_hash_handle hh;
};

/* A device with a confirmed downlink sent by this process and not yet acknowledged (nack.c):
 * only its uplinks without ACK need a write to count against it. */
struct ns_awaiting {
  uint64_t dev_eui;
  UT_hash_handle hh;
};

/* A device's dwell-time settings as TxParamSetupReq set them (dwell.c): until it answers
 * TxParamSetupAns it keeps the region's defaults (AS923, AU915: 400 ms up and down). */
struct ns_txparam {
  uint64_t dev_eui;
  bool acked;   /* it answered: the configured settings are its own */
  int attempts; /* requests sent unanswered (a LoRaWAN 1.0.0/1.0.1 device never answers) */
  UT_hash_handle hh;
};

struct ns_cluster;
struct ns_writer;
struct ns_session;

/* An integration event (io.on_event) held until its batch is committed. */
struct ns_event {
  uint64_t dev_eui;
  char type[16];
  struct json_t *payload;
};

/* [cluster]: a downlink sent here for another instance, until its TX_ACK goes back. */
enum { NS_FORWARDED = 256, NS_SHARED_MAX = 64 };
struct ns_forwarded {
  uint64_t owner, gateway_eui;
  uint16_t token;
  int64_t sent_ns;
};

/* What ADR learns of the links: learned and used on the packet thread, read by the API, both
 * under mu. */
struct lg_ns_links {
  pthread_mutex_t mu;
  struct lg_linkmap *map;
  double origin[2]; /* the plane's origin, lat and lon: from the file or the first gateway
                       the ADR hook sees */
  struct lg_enu_frame frame;
  bool framed;
};

struct lg_ns {
  struct lg_config cfg;
  /* [server] journal: every PUSH_DATA before its PUSH_ACK (journal.h) */
  struct lg_journal *journal;
  struct lg_journal_reader *catchup; /* frames are taken from the journal, not the socket */
  uint64_t seq;                      /* the datagram being handled */
  uint64_t local_seq;                /* without a journal: datagrams counted */
  uint64_t replayed_seq;             /* catching up: the last record run again */
  bool replaying;                    /* a journal record is being run: ns_now is its time */
  int64_t replay_now_ns;
  bool batch_failed;          /* a write of the open batch failed: the batch is undone */
  bool store_down;            /* storage fails: frames wait in the journal */
  bool store_waiting;         /* ... and the journal is run again at store_retry_ns */
  char store_reason[2][200];  /* /api/health's reason (two: one is rewritten, one read) */
  int store_reason_i;
  int64_t store_retry_ns;     /* when to try it again */
  int64_t store_logged_ns;    /* storage failures are logged at most every 10 s */
  uint64_t store_unlogged;    /* failures since */
  struct ns_gateway *unknown_oldest, *unknown_newest; /* unprovisioned gateways held */
  size_t n_unknown;
  struct ns_cluster *cluster; /* [cluster] redis: frames shared with other instances */
  bool cluster_down;          /* Redis unreachable (said once until it is back) */
  int64_t orphans_checked_ns; /* last look for frames of silent instances */
  int64_t nacks_checked_ns;   /* last look for confirmed downlinks past [network] ack_timeout_s */
  /* copies of this batch of datagrams, for Redis at its end (lg_ns_flush) */
  struct ns_shared {
    struct ns_frame *f;
    bool first; /* the frame's first copy here: Redis says who owns it */
    struct ns_rx rx;
  } shared[NS_SHARED_MAX];
  size_t n_shared;
  struct ns_forwarded forwarded[NS_FORWARDED]; /* a ring: the oldest is overwritten */
  unsigned n_forwarded;
  const struct lg_region *region;
  struct lg_store *store;
  struct lg_ns_io io;
  struct lg_crypto crypto;
  struct lg_geo_solver *solver;
  struct lg_calibration *cal; /* [geo] calibration, or NULL */
  struct lg_geo_live *live;   /* what locating has learned (geo/live.c) */
  uint64_t live_saved_refs;   /* reference frames when it was last saved */
  /* what ADR learns of the links (adr/linkmap.c), on one plane for the whole network */
  struct lg_ns_links links;
  uint64_t links_unsaved; /* uplinks learned since the last save */
  pthread_t links_saver;  /* a periodic save, writing a copy of the map */
  bool links_saving;      /* links_saver was started and not joined */
  atomic_bool links_saved; /* ... and has finished */
  atomic_bool links_save_failed; /* ... and could not write the file */
  struct lg_pathloss pathloss;
  struct ns_gateway *gateways;
  struct ns_frame *frames;
  size_t n_frames; /* in the table: open, and processed within the late horizon */
  struct ns_frame *free_frames;
  size_t n_free;
  struct ns_frame *oldest, *newest; /* all frames, in creation order */
  struct ns_frame *next_due;        /* the first not yet processed */
  struct ns_frame *closing;         /* being closed while the socket is read (kept) */
  struct ns_pending *pending;
  struct ns_acked *acked; /* one per device that sent a confirmed uplink */
  struct ns_awaiting *awaiting; /* devices owing an ACK for a confirmed downlink */
  struct ns_txparam *txparam; /* dwell-time settings per device, where TxParamSetupReq applies */
  struct ns_key *keys; /* least recently used first */
  size_t n_keys;
  uint16_t next_token;
  unsigned gateways_seen; /* the io->gateways_changed value the cache reflects */
  uint64_t rng;
  bool batch_open;         /* a tick's transaction is open: events wait for its commit */
  struct ns_event *events; /* waiting for the commit */
  size_t n_events, cap_events;
  /* storage behind the packet path (behind.c; NULL: written on this thread) */
  struct ns_writer *writer;
  struct ns_session *sessions; /* the sessions the packet thread judges frames with */
  uint64_t cur_ticket;         /* the uplink being processed, for the writes that hang on it */
  uint64_t writer_commits;     /* its successful commits, as last seen */
  const char *store_why;       /* why storage fails, when the storage thread said so */
  char store_why_buf[256];
  /* Class C and multicast (classc.c) */
  unsigned classc_queue_gen; /* 1 + the queue generation last worked off */
  int64_t classc_retry_ns;   /* a device's send was put off (its Class A windows, budget) */
  struct ns_fleet *fleet; /* the fleet's alarms and configuration shadow (fleet.c) */
  int64_t frame_ns;       /* the frame being processed: when it was received (0: none) */
  struct lg_ns_metrics m;
  struct lg_gw_push push; /* scratch for one PUSH_DATA (large: kept off the stack) */
  bool from_station;      /* the datagram being handled came from a Basics Station */
};

int64_t ns_now(struct lg_ns *ns);
/* Adds a reception to `f` (false when it has LG_GEO_MAX_RX already or memory is out). */
bool ns_frame_add_rx(struct ns_frame *f, const struct ns_rx *rx);
/* A frame's receptions back to its own room (the heap array freed). */
void ns_frame_reset_rx(struct ns_frame *f);
/* A tick's writes in one transaction; integration events raised meanwhile go out after
 * the commit, so whoever reads the API on an event finds what it announces. */
void ns_batch_begin(struct lg_ns *ns);
/* Commits the batch (or rolls it back when one of its writes failed). False: nothing of
 * it was kept. */
bool ns_batch_end(struct lg_ns *ns);
/* A write failed: counted, logged (rate-limited), and the open batch will be undone. */
void ns_store_error(struct lg_ns *ns, const char *what);
/* The log line alone (one per 10 s, with how many failed since): for a failure counted
 * elsewhere (the storage thread's). */
void ns_store_error_log(struct lg_ns *ns, const char *what, const char *msg);
/* An integration event: to io.on_event now, or after the open batch's commit (takes the
 * payload's reference). */
void ns_event(struct lg_ns *ns, uint64_t dev_eui, const char *type, struct json_t *payload);
/* Appends to the device's event record (GET /api/devices/{dev_eui}/events) and hands the
 * event to the integration hook (nack.c); takes the payload (NULL: nothing). */
void ns_device_event(struct lg_ns *ns, uint64_t dev_eui, const char *type, struct json_t *payload);
/* Confirmed downlinks not acknowledged (nack.c): an uplink without ACK counts against the
 * device's; [network] ack_timeout_s ends any (called every tick, works once a second). */
void ns_nack_uplink(struct lg_ns *ns, uint64_t dev_eui);
/* A confirmed downlink went to the device (sent: true) or it acknowledged (false). */
void ns_nack_awaiting(struct lg_ns *ns, uint64_t dev_eui, bool sent);
void ns_nack_free(struct lg_ns *ns);
void ns_nack_tick(struct lg_ns *ns, int64_t now_ns);
void ns_log(struct lg_ns *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ns_drop(struct lg_ns *ns, enum lg_drop why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* gateways.c: the registry's entry for `eui` (made on first sight, read from the store
 * again when due); NULL when out of memory. */
struct ns_gateway *ns_gateway(struct lg_ns *ns, uint64_t eui);
uint64_t ns_random(struct lg_ns *ns);
/* The cached key with these bytes (made on first use; NULL when OpenSSL fails). Valid until
 * NS_KEYS_MAX other keys have been asked for since. */
struct lg_key *ns_key(struct lg_ns *ns, const uint8_t bytes[16]);

/* uplink.c: whether a new frame is worth a de-duplication window when frames are many: a
 * join-request of a provisioned device, or a data frame whose MIC a session verifies.
 * False with the reason to count it under. */
bool ns_frame_worth(struct lg_ns *ns, const struct lg_gw_rxpk *r, enum lg_shed *why);
/* uplink.c: a frame whose window closed. */
void ns_process_frame(struct lg_ns *ns, struct ns_frame *f);
/* uplink.c: a copy that came after the window (stored, location refined). */
void ns_late_copy(struct lg_ns *ns, struct ns_frame *f, const struct ns_rx *rx);
/* uplink.c: a late copy of a frame another instance stored as uplink_id: kept with it. */
void ns_attach_copy(struct lg_ns *ns, int64_t uplink_id, int64_t first_ns, const struct ns_rx *rx);

/* behind.c: storage on a thread of its own, and the sessions cached for the packet thread
 * (the file's comment has the design). */
int ns_writer_open(struct lg_ns *ns, uint64_t checkpoint, char *why, size_t why_len);
/* Writes what is queued and stops the thread. */
void ns_writer_close(struct lg_ns *ns);
/* Hands the open batch to the storage thread; `advance`: once it is committed the journal's
 * checkpoint may go to `upto`. */
void ns_writer_push(struct lg_ns *ns, bool advance, uint64_t upto);
/* The open batch thrown away unwritten (its slice failed). */
void ns_writer_abort(struct lg_ns *ns);
/* Pushes the open batch and waits until everything pushed is done: false when a write
 * failed. (A clean stop, a replay's end, ADR reading the history.) */
bool ns_writer_wait(struct lg_ns *ns);
/* Operations pushed and not yet done. */
size_t ns_writer_backlog(struct lg_ns *ns);
/* The number of the open batch (its writes are committed once ns_writer_committed() reaches
 * it). */
uint64_t ns_writer_batch_no(struct lg_ns *ns);
uint64_t ns_writer_committed(struct lg_ns *ns);
/* Whether everything handed over is committed; if not, *upto is lowered to what the
 * committed batches allow. */
bool ns_writer_upto(struct lg_ns *ns, uint64_t *upto);
/* Every tick: whether a write failed since (reason in why; the batches behind it are
 * discarded, the open one too), the successful commits so far, and the DevEUIs whose
 * counter's compare-and-set failed (their cached sessions are read again). */
int ns_writer_poll(struct lg_ns *ns, char *why, size_t why_len, uint64_t *ok_commits,
                   uint64_t *conflicts, size_t *n_conflicts);
/* Writes queued in the open batch; the uplink's returns its ticket (0: not queued). */
uint64_t ns_write_uplink(struct lg_ns *ns, const struct lg_uplink_rec *u,
                         const struct lg_reception_rec *rx, size_t n, bool exact,
                         uint32_t expected, int gateways);
void ns_write_late_rx(struct lg_ns *ns, uint64_t ticket, const struct lg_reception_rec *r);
void ns_write_location(struct lg_ns *ns, uint64_t ticket, const struct lg_location_rec *l);
/* Takes the payload. */
void ns_write_event(struct lg_ns *ns, uint64_t ticket, uint64_t dev_eui, const char *type,
                    struct json_t *payload);
/* The sessions using a DevAddr: from the cache with storage behind, else from the store. */
int ns_sessions_by_addr(struct lg_ns *ns, uint32_t dev_addr, struct lg_device_rec *out, size_t cap,
                        size_t *n);
/* A counter accepted: the cached session moves past it (its write is in the open batch). */
void ns_session_accepted(struct lg_ns *ns, uint32_t dev_addr, uint64_t dev_eui, uint32_t f_cnt);
/* Read again from the store once its writes are committed. */
void ns_session_stale(struct lg_ns *ns, uint64_t dev_eui);
void ns_sessions_clear(struct lg_ns *ns);
/* Whether the device's downlink queue is known empty (nothing queued since it was seen so,
 * at queue generation `queue_gen`: lg_store_queue_generation). */
bool ns_session_queue_empty(struct lg_ns *ns, uint32_t dev_addr, uint64_t dev_eui);
void ns_session_queue_seen_empty(struct lg_ns *ns, uint32_t dev_addr, uint64_t dev_eui,
                                 unsigned queue_gen);

/* fleet.c (issue 19): the fleet on the packet path (the file's comment has the design) */
int ns_fleet_open(struct lg_ns *ns, char *why, size_t why_len);
void ns_fleet_close(struct lg_ns *ns);
/* A new uplink accepted (not a retransmission), its FPort and decrypted payload. */
void ns_fleet_uplink(struct lg_ns *ns, const struct lg_device_rec *d, uint32_t f_cnt, int f_port,
                     const uint8_t *data, size_t len);
/* A frame-counter reset, or a rejoin after the device's session ran. */
void ns_fleet_reboot(struct lg_ns *ns, const struct lg_device_rec *d, const char *why);
/* A MAC answer of the device (LinkADRAns, RXParamSetupAns, DevStatusAns). */
void ns_fleet_mac_answer(struct lg_ns *ns, const struct lg_device_rec *d, const struct lg_mac_cmd *c);
/* Before the Class A answer: configuration MAC commands and DevStatusReq appended to
 * answers (FOpts), the application's configuration queued. */
void ns_fleet_answer(struct lg_ns *ns, const struct lg_device_rec *d, int up_dr, uint8_t *answers,
                     size_t *ans_len);
/* What the device's reported configuration asks of ADR and downlinks. */
struct ns_fleet_limits {
  bool has_max_dr, has_min_txp, has_margin, has_ch_mask, has_rx;
  int max_dr, min_tx_power_index;
  double margin_db;
  uint16_t ch_mask;
  int rx1_dr_offset, rx2_dr;
  uint32_t rx2_freq_hz;
};
void ns_fleet_adr_limits(struct lg_ns *ns, uint64_t dev_eui, struct ns_fleet_limits *l);
void ns_fleet_mic_failure(struct lg_ns *ns, uint32_t dev_addr);
void ns_fleet_gateway_rx(struct lg_ns *ns, uint64_t gateway_eui, bool located, bool outlier);
/* A fix, and the device's track after it (NULL: not tracked). */
void ns_fleet_position(struct lg_ns *ns, uint64_t dev_eui, double lat_deg, double lon_deg,
                       double accuracy_m, const struct lg_geo_track_point *track);
/* Every tick: the time-driven rules, every 10 s of the server's clock. */
void ns_fleet_tick(struct lg_ns *ns, int64_t now_ns);

/* downlink.c */
struct ns_dl {
  uint8_t phy[256];
  size_t len;
  int64_t rx1_delay_ns; /* from the uplink's tmst */
  int64_t rx2_delay_ns;
  bool device_dwell; /* the device believes DownlinkDwellTime = 1 (AS923's RX1 table) */
  bool has_f_cnt;    /* a data downlink's FCntDown (the txack event says it) */
  uint32_t f_cnt;
  /* the device's own RX1 offset and RX2 (RXParamSetupReq acknowledged), else the region's */
  bool own_rx;
  int rx1_dr_offset, rx2_dr;
  uint32_t rx2_freq_hz;
};
/* ---- dwell time (dwell.c), RP002-1.0.4: 400 ms per transmission where it applies ---- */

/* Whether a downlink transmission is held to 400 ms: US915 always (as its uplinks; a
 * conservative reading), AS923/AU915 per [network] downlink_dwell_time. */
bool ns_dwell_downlink(const struct lg_ns *ns);
/* Whether device dev_eui's uplinks are held to it: US915 always; AS923/AU915 until the
 * device acknowledged [network] uplink_dwell_time = false through TxParamSetupAns. */
bool ns_dwell_uplink(struct lg_ns *ns, uint64_t dev_eui);
/* Whether the device believes DownlinkDwellTime = 1 (AS923's RX1 table depends on it). */
bool ns_device_downlink_dwell(struct lg_ns *ns, uint64_t dev_eui);
/* Time on air (ns) of `size` PHYPayload bytes at (sf, bw); uplinks carry a CRC. */
int64_t ns_airtime_ns(int sf, uint32_t bw_hz, size_t size, bool uplink);
/* Counts an uplink (its first reception's radio settings) on air longer than the dwell
 * time where uplink dwell applies; true when it was. */
bool ns_dwell_uplink_check(struct lg_ns *ns, const struct ns_frame *f);
/* The lowest uplink DR an ADR command may give a device whose frames are `phy_len` bytes:
 * under uplink dwell the DR must be allowed (RP002's dwell payload table) and the frame
 * must fit 400 ms; otherwise 0. */
int ns_dwell_min_uplink_dr(struct lg_ns *ns, uint64_t dev_eui, size_t phy_len);
/* The largest PHYPayload a downlink at `dr` may have: the region's M (under dwell its
 * dwell table's) + 5, and under downlink dwell no longer than 400 ms on air. */
size_t ns_downlink_max_phy(const struct lg_ns *ns, int dr, bool device_dwell);
/* Appends a TxParamSetupReq to `answers` (FOpts) when the configured dwell settings differ
 * from the region's defaults and the device has not acknowledged them (3 tries). */
void ns_txparam_request(struct lg_ns *ns, uint64_t dev_eui, uint8_t *answers, size_t *ans_len);
/* The device answered TxParamSetupAns: the configured settings are its own now. */
void ns_txparam_answered(struct lg_ns *ns, uint64_t dev_eui);
/* A device that joined again starts from the region's defaults. */
void ns_txparam_reset(struct lg_ns *ns, uint64_t dev_eui);

/* Sends `dl` in RX1 through the best gateway of `f` (RX2 kept as the fallback). */
void ns_send_downlink(struct lg_ns *ns, const struct ns_frame *f, const struct ns_dl *dl);
/* Class C / multicast: sends `dl` at once (txpk "imme") on freq_hz / dr through the first
 * of `gws` (in order of preference) with a downlink path and duty-cycle budget; the others
 * are tried in turn when its TX_ACK reports an error. The gateway used in *via. False when
 * none could take it (*budget: the duty cycle was what stopped it). Through a Basics Station
 * it is a Class C dnmsg ("dC" 2). */
bool ns_send_now(struct lg_ns *ns, uint64_t dev_eui, const uint64_t *gws, size_t n, uint32_t freq_hz,
                 int dr, const struct ns_dl *dl, uint64_t *via, bool *budget);

/* downframe.c: what a data downlink carries, for its record. */
struct ns_down_info {
  uint32_t f_cnt;
  int f_port; /* -1: none (an ACK or MAC commands only) */
  bool confirmed, more;
  uint8_t data[242]; /* the item as queued (to queue it again if it cannot be sent) */
  size_t len;
  size_t cap;     /* the most payload this downlink could carry */
  bool discarded; /* the oldest item was larger: removed from the queue (counted, logged) */
  int f_port_discarded;
  size_t len_discarded;
};
/* The device's next data downlink: ACK, FOpts, the oldest queued item if it fits in `cap`
 * bytes (else it is removed: info->discarded). False when there is nothing to send (no
 * ACK, no MAC command, empty queue) or it cannot be built. */
bool ns_data_down(struct lg_ns *ns, const struct lg_device_rec *d, bool ack, const uint8_t *fopts,
                  size_t fopts_len, size_t cap, struct ns_dl *dl, struct ns_down_info *info);
/* Records a data downlink sent as the device's "downlink" event (the events list and the
 * console's frame log; not published: MQTT and webhooks carry what the device sent and
 * its acks): f_cnt, f_port (null: ACK or MAC commands only), bytes, confirmed, ack,
 * mac_bytes, class ("A": in a receive window, "C": at once). 0, or a storage error. */
int ns_downlink_event(struct lg_ns *ns, uint64_t dev_eui, const struct ns_down_info *in, bool ack,
                      size_t mac_bytes, const char *cls);
/* A multicast group's frame (unconfirmed, FCnt fcnt, to McAddr). */
bool ns_mcast_down(struct lg_ns *ns, const struct lg_mcast_group *g, uint32_t fcnt, int f_port,
                   const uint8_t *data, size_t len, struct ns_dl *dl);
/* classc.c: Class C and multicast downlinks waiting in the queues go out (every tick; the
 * store is read only when something was queued or a send is due again). */
void ns_classc_tick(struct lg_ns *ns);
void ns_tx_ack(struct lg_ns *ns, uint16_t token, uint64_t gateway_eui, const char *error);
void ns_pending_expire(struct lg_ns *ns, int64_t now_ns);
/* Whether the confirmed uplink f_cnt of dev_eui may be ACKed once more (taken if so):
 * always for a new frame, for retransmissions while its ACKs are below nb_trans (at least
 * 1). A refusal is counted (downlinks_total{result="ack_limit"}). */
bool ns_ack_take(struct lg_ns *ns, uint64_t dev_eui, uint32_t f_cnt, bool retransmission,
                 int nb_trans);
/* [cluster]: a TX_ACK from a gateway held here, for a downlink another instance decided:
 * returned to it. False when the token is not such a downlink's. */
bool ns_tx_ack_forwarded(struct lg_ns *ns, uint16_t token, uint64_t gateway_eui, const char *error);
/* [cluster], every tick: downlinks the others hand to gateways held here, and the TX_ACKs
 * of downlinks this instance handed over. */
void ns_cluster_tick(struct lg_ns *ns, int64_t now_ns);

/* Writes what locating has learned to [geo] learned (when set and changed); a failure is
 * logged. On a clean stop, and every 100 reference frames `soon` (the radio map file left
 * to the rebuild worker, lg_geo_live_save_soon: nothing built on the packet thread). */
void ns_save_live(struct lg_ns *ns, bool soon);

/* What ADR learns of the links: 250 m cells, at most 65,536 (gateway, cell) pairs (12 MB
 * of slots, their pages touched as they fill); written to [adr] learned on a clean stop
 * and every NS_LINK_SAVE_EVERY uplinks it learned from (when set and changed): then a copy
 * of the map (a few milliseconds: bench/linkmap_bench) is written by a thread of its own
 * (a full map takes ~140 ms to write), one at a time. A failure is logged and counted
 * (lorageo_adr_link_save_errors_total), and the map saved again later and at stop. */
#define NS_LINK_CELL_M     250.0
#define NS_LINK_CELLS      65536
#define NS_LINK_SAVE_EVERY 1000
void ns_save_links(struct lg_ns *ns, bool soon);
/* learned.c, at start: what was learned before, from [geo] learned and [adr] learned (a
 * file that is not what it should be: LG_EINVAL with the reason; [adr] learned's
 * directory must be writable). At stop, ns_links_wait joins a periodic save. */
int ns_open_live(struct lg_ns *ns, const struct lg_config *cfg, char *why, size_t why_len);
int ns_open_links(struct lg_ns *ns, const struct lg_config *cfg, char *why, size_t why_len);
void ns_links_wait(struct lg_ns *ns);

#endif
