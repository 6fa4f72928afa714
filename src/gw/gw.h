/*
 * gw — the Semtech UDP packet-forwarder protocol (versions 1 and 2), as a network server
 * speaks it: datagram headers, PUSH_DATA's rxpk/stat JSON, TX_ACK, and the datagrams the
 * server sends (PUSH_ACK, PULL_ACK, PULL_RESP with txpk). Pure parsing and building over
 * caller-owned buffers: sockets and timers live in the server.
 *
 * Every reception keeps what a TDOA solver needs: the receive time in int64 ns (from
 * `tmms` + `ftime`, or the RFC 3339 `time` with any number of fractional digits), the
 * concentrator counter `tmst`, and per antenna (`rsig[]`) the RSSI, SNR and fine time.
 * Sources: Lora-net packet_forwarder PROTOCOL.TXT, sx1302_hal PROTOCOL.md (see
 * ../shared/reference/semtech-udp.md).
 */
#ifndef LG_GW_H
#define LG_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lg_gw_type {
  LG_GW_PUSH_DATA = 0,
  LG_GW_PUSH_ACK = 1,
  LG_GW_PULL_DATA = 2,
  LG_GW_PULL_RESP = 3,
  LG_GW_PULL_ACK = 4,
  LG_GW_TX_ACK = 5,
};

#define LG_GW_MAX_DATAGRAM 65507
#define LG_GW_MAX_RXPK     32 /* rxpk entries kept from one PUSH_DATA */
#define LG_GW_MAX_ANTENNAS 8

struct lg_gw_header {
  uint8_t version; /* 1 or 2 */
  uint16_t token;  /* bytes 1-2 as read (big-endian); echoed unchanged */
  enum lg_gw_type type;
  uint64_t gateway_eui; /* PUSH_DATA, PULL_DATA, TX_ACK; 0 otherwise */
  size_t body_off;      /* where the JSON starts (len when there is none) */
};

/*
 * Parses the header of a datagram from a gateway (PUSH_DATA, PULL_DATA or TX_ACK).
 * Errors, each with a reason string from lg_gw_strerror(): LG_GW_ESHORT, LG_GW_EVERSION,
 * LG_GW_ETYPE (unknown or server-to-gateway type), LG_GW_EEUI (zero EUI).
 */
int lg_gw_parse_header(const uint8_t *buf, size_t len, struct lg_gw_header *h);

enum lg_gw_err {
  LG_GW_ESHORT = -100, /* shorter than its header */
  LG_GW_EVERSION = -101,
  LG_GW_ETYPE = -102,
  LG_GW_EEUI = -103,
  LG_GW_EJSON = -104, /* the body is not the JSON object the type requires */
};

/* Short reason for an LG_GW_E* code (also for metrics labels): "short", "version", ... */
const char *lg_gw_strerror(int err);

/* Writes the 4-byte PUSH_ACK or PULL_ACK answering `h` into out. */
void lg_gw_build_ack(const struct lg_gw_header *h, uint8_t out[4]);

/* ---- receptions ---------------------------------------------------------------- */

enum lg_gw_mod { LG_GW_MOD_LORA = 0, LG_GW_MOD_FSK, LG_GW_MOD_OTHER };

struct lg_gw_antenna {
  int ant, chan;
  bool has_rssi, has_snr, has_ftime;
  double rssi_dbm, snr_db;
  int64_t ftime_ns; /* ns since the last PPS, 0..999999999 */
};

/* One rxpk: one gateway's reception of one frame. */
struct lg_gw_rxpk {
  bool has_time;   /* "time": RFC 3339 UTC */
  int64_t time_ns; /* ns since the Unix epoch */
  int time_digits; /* fractional digits "time" carried (6 for us, 9 for ns) */
  bool has_tmms;
  int64_t tmms_ms; /* GPS time, ms since 1980-01-06 (accepted up to 7e12: year 2201) */
  bool has_ftime;
  int64_t ftime_ns; /* fine timestamp, ns since the PPS */
  bool has_tmst;
  uint32_t tmst; /* concentrator us counter at the end of the frame */
  uint32_t freq_hz;
  int chan, rfch;
  int crc; /* 1 ok, -1 bad, 0 none */
  enum lg_gw_mod mod;
  int sf;
  uint32_t bw_hz;
  uint32_t fsk_bps;
  char codr[8];
  bool has_rssi, has_snr, has_foff;
  double rssi_dbm, snr_db, foff_hz;
  size_t n_ant;
  struct lg_gw_antenna ant[LG_GW_MAX_ANTENNAS];
  size_t size; /* PHYPayload bytes */
  uint8_t data[256];
  /* Basics Station receptions (journalled as rxpk with these two extra fields): the
   * station's 64-bit `xtime` (radio session and µs counter; tmst is its low 32 bits) and
   * `rctx`, both echoed in a downlink answering this reception. */
  bool has_xtime;
  int64_t xtime, rctx;
};

struct lg_gw_stat {
  bool has_position;
  double lat_deg, lon_deg, alt_m;
  bool has_counters;
  uint32_t rxnb, rxok, rxfw, dwnb, txnb;
  double ackr;
};

struct lg_gw_push {
  size_t n_rxpk;
  struct lg_gw_rxpk rxpk[LG_GW_MAX_RXPK];
  size_t n_rejected; /* rxpk entries refused (reasons counted below) */
  size_t n_crc_bad;  /* of those: CRC failed or absent */
  bool has_stat;
  struct lg_gw_stat stat;
};

/*
 * Parses the JSON body of a PUSH_DATA. An rxpk with a bad field is refused on its own
 * (n_rejected; the first reason goes to `why`) and the others are kept. Errors:
 * LG_GW_EJSON when the body is not a JSON object or `rxpk` is not an array.
 */
int lg_gw_parse_push(const char *json, size_t len, struct lg_gw_push *p, char *why, size_t why_len);

/* Parses a TX_ACK body (may be empty): writes the error ("NONE" when none, as the
 * gateway reports success) into err. LG_GW_EJSON for a body that is not JSON. */
int lg_gw_parse_txack(const char *json, size_t len, char *err, size_t err_len);

/* ---- time ---------------------------------------------------------------------- */

/* Parses an RFC 3339 / ISO 8601 UTC time ("2013-03-31T16:21:17.528002Z", any number
 * of fractional digits, "Z" or a +hh:mm offset) into ns since the Unix epoch; the count
 * of fractional digits goes to *digits (may be NULL). LG_EINVAL when malformed or
 * outside the years 1970..2200. */
int lg_gw_parse_time(const char *s, size_t len, int64_t *ns, int *digits);

/* GPS time (ns since 1980-01-06T00:00:00) to Unix time (ns), minus the leap seconds
 * inserted since 1980 (18 since 2017-01-01, IERS Bulletin C). */
int64_t lg_gw_gps_to_unix_ns(int64_t gps_ns);
/* The inverse: ns since the Unix epoch (UTC) to ns since the GPS epoch. */
int64_t lg_gw_unix_to_gps_ns(int64_t unix_ns);

/*
 * The best receive time a reception offers for TDOA, in ns since the Unix epoch, and
 * its expected timing noise: `tmms` + `ftime` (or the antennas' combined fine time,
 * see below) first; then `time` with its fractional digits (the quantisation of a
 * microsecond stamp alone is 289 ns RMS); `tmms` without a fine time is too coarse
 * (1 ms = 300 km) and gives none. Returns false when there is no usable GPS time.
 * `fine_sigma_ns` is the noise assumed for a fine timestamp.
 */
bool lg_gw_best_time(const struct lg_gw_rxpk *r, double fine_sigma_ns, int64_t *unix_ns,
                     double *sigma_ns);

/*
 * Several antennas of one gateway (rsig[]) combined as the Semtech ranging patent
 * describes: measures more than 6 dB below the strongest are dropped, the fine times of
 * the rest averaged. Returns the number of antennas used (0: none has a fine time).
 */
size_t lg_gw_combine_antennas(const struct lg_gw_rxpk *r, int64_t *ftime_ns, double *rssi_dbm);

/* ---- downlink ------------------------------------------------------------------ */

struct lg_gw_txpk {
  bool immediate;
  bool has_tmst;
  uint32_t tmst; /* Class A: uplink tmst + RX delay */
  uint32_t freq_hz;
  int rfch;
  int power_dbm;
  int sf;
  uint32_t bw_hz;
  char codr[8];
  bool ipol; /* LoRaWAN downlinks: true */
  size_t size;
  const uint8_t *data;
};

/* Builds a PULL_RESP (version, server token, {"txpk": ...}) into out. Returns the
 * datagram length, or LG_ENOSPC / LG_EINVAL. The gateway reads at most 1000 bytes. */
int lg_gw_build_pull_resp(uint8_t version, uint16_t token, const struct lg_gw_txpk *tx,
                          uint8_t *out, size_t cap);

/* ---- downlinks through a transport other than PULL_RESP (Basics Station) ------ */

enum lg_gw_dl_class { LG_GW_DL_CLASS_A = 0, LG_GW_DL_CLASS_C = 2 };

/*
 * A downlink as the scheduler hands it to a gateway that schedules its own receive windows
 * (a Basics Station `dnmsg`). Class A: the uplink's `xtime`/`rctx`, RX1 after
 * `rx_delay_s` and RX2 one second later (the station falls back to RX2 itself). Class C
 * ("send now on RX2 parameters"): `rx2_*` only, `has_xtime` optional (when set the station
 * may still use RX1 of that uplink).
 */
struct lg_gw_dl {
  uint32_t diid; /* the scheduler's token: the confirmation (dntxed) echoes it */
  uint64_t dev_eui;
  enum lg_gw_dl_class dev_class;
  const uint8_t *pdu;
  size_t len;
  bool has_rx1;
  int rx_delay_s; /* 1..15: RX1 this many seconds after the uplink (Class A) */
  int rx1_dr;
  uint32_t rx1_freq_hz;
  int rx2_dr;
  uint32_t rx2_freq_hz;
  bool has_xtime;
  int64_t xtime, rctx; /* from the uplink being answered */
  int priority;        /* 0..255 */
};

/* ---- LoRa Basics Station: the LNS protocol's messages (station_msg.c) ----------- */

struct lg_region;

enum lg_station_type {
  LG_STATION_UNKNOWN = 0, /* a msgtype this server does not use (counted, ignored) */
  LG_STATION_VERSION,
  LG_STATION_UPDF,
  LG_STATION_JREQ,
  LG_STATION_PROPDF,
  LG_STATION_DNTXED,
  LG_STATION_TIMESYNC,
};

/* One message from a station, parsed. */
struct lg_station_up {
  enum lg_station_type type;
  char msgtype[24];
  /* updf, jreq, propdf: the reception as the UDP path keeps one (PHYPayload rebuilt from
   * the message's fields; tmms/ftime from gpstime/fts; tmst/xtime/rctx from upinfo) */
  struct lg_gw_rxpk rx;
  int dr;
  /* dntxed */
  int64_t diid;
  /* timesync: the station's txtime (µs, its own clock) */
  int64_t txtime_us;
  /* version */
  char station[64], features[128];
  int protocol;
};

/*
 * Parses one text message of a station's traffic connection (at most `len` bytes of JSON;
 * DR indices are read in `region`'s table). 0, or LG_EINVAL with the reason in `why`
 * (not JSON, no msgtype, a field missing or out of range) — the caller logs and counts it.
 */
int lg_station_parse(const char *json, size_t len, const struct lg_region *region,
                     struct lg_station_up *m, char *why, size_t why_len);

/*
 * EUIs as stations write them: "01-23-45-67-89-ab-cd-ef", "0123456789abcdef", ID6
 * ("123:4567:89ab:cdef", "::1", "1::") and, in router-info, a JSON integer (see
 * lg_station_parse_router). 0 or LG_EINVAL.
 */
int lg_station_parse_eui(const char *s, size_t len, uint64_t *eui);

/* The `router` of a router-info request ({"router": EUI}). 0 or LG_EINVAL with why. */
int lg_station_parse_router(const char *json, size_t len, uint64_t *eui, char *why,
                            size_t why_len);

/*
 * Messages to a station, written into out (NUL-terminated). Each returns the length, or
 * LG_ENOSPC. `mux_time_s` is the server's Unix time (s) for the station's round-trip
 * measure (MuxTime).
 * - router_config: region, hwspec sx1301/1, freq_range, DRs, sx1301_conf built from the
 *   region's uplink channels (at most 8 multi-SF + one 500 kHz channel on two radios),
 *   nocca / nodc / nodwell where the region has no such rule.
 * - dnmsg: from lg_gw_dl (dC 0 Class A with RxDelay/RX1/RX2/xtime/rctx; dC 2 Class C).
 * - timesync: the answer to a station's timesync (its txtime, the GPS time in µs).
 * - router-info: {"router": .., "muxs": "lorageo", "uri": uri} or {"router":.., "error":..}.
 */
int lg_station_router_config(const struct lg_region *region, double mux_time_s, char *out,
                             size_t cap);
int lg_station_dnmsg(const struct lg_gw_dl *dl, double mux_time_s, char *out, size_t cap);
int lg_station_timesync(int64_t txtime_us, int64_t gpstime_us, double mux_time_s, char *out,
                        size_t cap);
int lg_station_router_info(uint64_t eui, const char *uri, const char *error, char *out,
                           size_t cap);

/* Station region names (RP002 name → the station's: EU868 → EU863, US915 → US902). */
const char *lg_station_region_name(const struct lg_region *region);

/*
 * A reception from a station as a Semtech PUSH_DATA datagram (protocol 2, token 0) whose
 * one rxpk carries everything lg_gw_parse_push reads back into the same lg_gw_rxpk
 * (xtime and rctx as extra fields): the form the journal keeps, so a station's uplinks are
 * journalled, replayed and processed exactly as a UDP gateway's. Returns the length or
 * LG_ENOSPC.
 */
int lg_station_push_datagram(uint64_t gateway_eui, const struct lg_gw_rxpk *r, uint8_t *out,
                             size_t cap);


#endif
