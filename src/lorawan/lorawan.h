/*
 * lorawan — the LoRaWAN 1.0.x frame codec, its cryptography and MAC commands.
 *
 * Layout (LoRaWAN 1.0.4 §4, 1.1 §4 where shared):
 *   PHYPayload = MHDR(1) | MACPayload | MIC(4)   (join-accept: MHDR | enc(body | MIC))
 *   MACPayload = FHDR | [FPort(1) | FRMPayload]
 *   FHDR       = DevAddr(4) | FCtrl(1) | FCnt(2) | FOpts(0..15)
 * Multi-octet fields are little-endian on air; the structs here hold host integers
 * (EUIs and DevAddr as numbers, printed big-endian as people write them).
 *
 * Crypto uses OpenSSL 3: AES-128 and AES-CMAC (RFC 4493). Algorithms are fetched
 * once into a struct lg_crypto; every key gets a struct lg_key holding its own
 * ready-to-use contexts, so the packet path never creates a context.
 */
#ifndef LG_LORAWAN_H
#define LG_LORAWAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_PHY_MAX    255 /* largest PHYPayload a LoRa radio carries */
#define LG_FOPTS_MAX  15
#define LG_KEY_LEN    16
#define LG_MIC_LEN    4
#define LG_CFLIST_LEN 16

/* ---- crypto ------------------------------------------------------------------- */

struct evp_cipher_st;
struct evp_cipher_ctx_st;
struct evp_mac_st;
struct evp_mac_ctx_st;

/* Fetched algorithms, shared by all keys. init/close pair; the caller owns it. */
struct lg_crypto {
  struct evp_cipher_st *aes_ecb;
  struct evp_mac_st *cmac;
};

int lg_crypto_init(struct lg_crypto *c);
void lg_crypto_close(struct lg_crypto *c);

/* One AES-128 key with its encrypt, decrypt and CMAC contexts, set up once.
 * init/close pair; lg_key_close() on a zeroed struct is safe. */
struct lg_key {
  uint8_t bytes[LG_KEY_LEN];
  struct evp_cipher_ctx_st *enc;
  struct evp_cipher_ctx_st *dec;
  struct evp_mac_ctx_st *mac;
};

int lg_key_init(struct lg_key *k, const struct lg_crypto *c, const uint8_t bytes[LG_KEY_LEN]);
void lg_key_close(struct lg_key *k);

/* AES-CMAC (RFC 4493) of a ‖ b (b may be NULL with b_len 0). */
int lg_key_cmac(struct lg_key *k, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                uint8_t out[16]);
/* AES-128-ECB over `len` bytes (a multiple of 16); in and out may alias. */
int lg_key_encrypt(struct lg_key *k, const uint8_t *in, size_t len, uint8_t *out);
int lg_key_decrypt(struct lg_key *k, const uint8_t *in, size_t len, uint8_t *out);

/* ---- frames ------------------------------------------------------------------- */

enum lg_mtype {
  LG_MTYPE_JOIN_REQUEST = 0,
  LG_MTYPE_JOIN_ACCEPT = 1,
  LG_MTYPE_UNCONFIRMED_UP = 2,
  LG_MTYPE_UNCONFIRMED_DOWN = 3,
  LG_MTYPE_CONFIRMED_UP = 4,
  LG_MTYPE_CONFIRMED_DOWN = 5,
  LG_MTYPE_REJOIN_REQUEST = 6,
  LG_MTYPE_PROPRIETARY = 7,
};

/* "join_request", "unconfirmed_data_up", ... as in the decode contract. */
const char *lg_mtype_name(enum lg_mtype m);
bool lg_mtype_is_data(enum lg_mtype m);
bool lg_mtype_is_uplink(enum lg_mtype m);

/* FCtrl bits (1.0.4 §4.3.1). Bit 6 is ADRACKReq uplink, RFU downlink; bit 4 is
 * FPending downlink, ClassB uplink. */
#define LG_FCTRL_ADR         0x80
#define LG_FCTRL_ADR_ACK_REQ 0x40
#define LG_FCTRL_ACK         0x20
#define LG_FCTRL_FPENDING    0x10
#define LG_FCTRL_CLASS_B     0x10
#define LG_FCTRL_FOPTS_LEN   0x0f

struct lg_data_frame {
  uint32_t dev_addr;
  uint8_t fctrl; /* raw byte; FOptsLen bits always equal f_opts_len */
  uint16_t f_cnt16;
  uint8_t f_opts_len;
  uint8_t f_opts[LG_FOPTS_MAX];
  bool has_f_port;
  uint8_t f_port;
  size_t frm_payload_len; /* 0 when !has_f_port */
  uint8_t frm_payload[LG_PHY_MAX];
};

struct lg_join_request {
  uint64_t join_eui;
  uint64_t dev_eui;
  uint16_t dev_nonce;
};

/* Rejoin-request (1.1 §6.2.4.4): type 0/2 carry net_id, type 1 join_eui. */
struct lg_rejoin_request {
  uint8_t rejoin_type;
  uint32_t net_id;
  uint64_t join_eui;
  uint64_t dev_eui;
  uint16_t rj_count;
};

/* Join-accept body, plaintext (1.0.4 §6.2.5). */
struct lg_join_accept {
  uint32_t join_nonce; /* 24 bits (AppNonce in 1.0.x) */
  uint32_t net_id;     /* 24 bits */
  uint32_t dev_addr;
  uint8_t dl_settings; /* bit 7 OptNeg (1.1), bits 6..4 RX1DROffset, 3..0 RX2 DR */
  uint8_t rx_delay;    /* bits 3..0; 0 means 1 s */
  bool has_cf_list;
  uint8_t cf_list[LG_CFLIST_LEN];
};

struct lg_frame {
  uint8_t mhdr;
  enum lg_mtype mtype;
  uint8_t major; /* 0 = LoRaWAN R1, the only one defined */
  union {
    struct lg_data_frame data;
    struct lg_join_request join_req;
    struct lg_rejoin_request rejoin;
    struct {
      size_t len; /* 16 or 32: encrypted body incl. MIC */
      uint8_t enc[32];
    } join_accept; /* still encrypted; see lg_join_accept_decrypt() */
    struct {
      size_t len;
      uint8_t bytes[LG_PHY_MAX];
    } proprietary; /* everything after MHDR, uninterpreted */
  } u;
  uint8_t mic[LG_MIC_LEN]; /* as on air; not set for join-accept and proprietary */
};

/*
 * Parses a PHYPayload of `len` bytes into *f (every byte copied; `phy` is not kept).
 * Errors: LG_ETRUNC (shorter than the message type needs, or FOptsLen past the end),
 * LG_ETOOLONG (over LG_PHY_MAX, or a fixed-size message that is longer), LG_EMTYPE
 * (major version other than R1), LG_EINVAL (FOpts present with FPort 0, or a
 * join-accept length other than 17 or 33).
 */
int lg_frame_decode(const uint8_t *phy, size_t len, struct lg_frame *f);

/*
 * Serialises *f into `out` (capacity `cap`), MIC taken from f->mic (join-accept: the
 * encrypted bytes as stored). For data frames FCtrl's FOptsLen is taken from
 * f_opts_len. Errors: LG_EINVAL (field out of range), LG_ENOSPC.
 */
int lg_frame_encode(const struct lg_frame *f, uint8_t *out, size_t cap, size_t *len);

/* ---- data frame crypto (1.0.4 §4.3.3, §4.4) ----------------------------------- */

/* MIC of a data frame: CMAC(NwkSKey, B0 ‖ msg)[0..3], B0 carrying the full 32-bit
 * FCnt. `msg` is MHDR..FRMPayload (the PHYPayload without its MIC). */
int lg_data_mic(struct lg_key *nwk_s_key, const uint8_t *msg, size_t msg_len, uint32_t dev_addr,
                uint32_t f_cnt, bool downlink, uint8_t mic[LG_MIC_LEN]);

/* FRMPayload encryption and decryption (they are the same XOR with AES(key, A_i)):
 * AppSKey for FPort > 0, NwkSKey for FPort 0. `len` up to LG_PHY_MAX; in/out may
 * alias. */
int lg_payload_crypt(struct lg_key *key, uint32_t dev_addr, uint32_t f_cnt, bool downlink,
                     const uint8_t *in, size_t len, uint8_t *out);

/* LoRaWAN 1.1 FOpts encryption with NwkSEncKey (1.1 §4.3.1.6, errata form: A's
 * byte 4 is 0x02 for downlinks whose FPort is not 0, else 0x01). */
int lg_fopts_crypt_11(struct lg_key *nwk_s_enc_key, uint32_t dev_addr, uint32_t f_cnt,
                      bool downlink, bool a_fcnt_down, const uint8_t *in, size_t len, uint8_t *out);

/* ---- join (1.0.4 §6.2) -------------------------------------------------------- */

/* Join-request (or any 1.0 join-type message) MIC: CMAC(AppKey, msg)[0..3] where
 * `msg` is the PHYPayload without MIC. */
int lg_join_mic(struct lg_key *app_key, const uint8_t *msg, size_t msg_len,
                uint8_t mic[LG_MIC_LEN]);

/*
 * Join-accept crypto. The network "encrypts" with AES decrypt so the device needs only
 * AES encrypt (1.0.4 §6.2.5). `body` is the 16 or 32 bytes after MHDR (fields ‖ MIC).
 */
int lg_join_accept_encrypt(struct lg_key *app_key, const uint8_t *plain, size_t len, uint8_t *enc);
int lg_join_accept_decrypt(struct lg_key *app_key, const uint8_t *enc, size_t len, uint8_t *plain);

/* Parses a decrypted join-accept body (16 or 32 bytes incl. MIC) into *ja and the
 * MIC; LG_EINVAL for another length. */
int lg_join_accept_parse(const uint8_t *plain, size_t len, struct lg_join_accept *ja,
                         uint8_t mic[LG_MIC_LEN]);
/* Writes the plaintext body (12 or 28 bytes, without MIC) of *ja; returns its length
 * in *len. */
int lg_join_accept_write(const struct lg_join_accept *ja, uint8_t *out, size_t cap, size_t *len);

/* 1.0.x session keys: AES(AppKey, type ‖ JoinNonce ‖ NetID ‖ DevNonce ‖ pad16),
 * type 0x01 → NwkSKey, 0x02 → AppSKey (1.0.4 §6.2.5). */
int lg_derive_session_keys_10(struct lg_key *app_key, uint32_t join_nonce, uint32_t net_id,
                              uint16_t dev_nonce, uint8_t nwk_s_key[LG_KEY_LEN],
                              uint8_t app_s_key[LG_KEY_LEN]);

/* 1.1 join-server keys: AES(NwkKey, 0x05|0x06 ‖ DevEUI ‖ pad16) (1.1 §6.1.1.3). */
int lg_derive_js_keys_11(struct lg_key *nwk_key, uint64_t dev_eui, uint8_t js_int_key[LG_KEY_LEN],
                         uint8_t js_enc_key[LG_KEY_LEN]);

/* 1.1 join-accept MIC when OptNeg is set: CMAC(JSIntKey, JoinReqType ‖ JoinEUI ‖
 * DevNonce ‖ MHDR ‖ body-without-MIC)[0..3] (1.1 §6.2.3). */
int lg_join_accept_mic_11(struct lg_key *js_int_key, uint8_t join_req_type, uint64_t join_eui,
                          uint16_t dev_nonce, const uint8_t *msg, size_t msg_len,
                          uint8_t mic[LG_MIC_LEN]);

/* ---- frame counters ----------------------------------------------------------- */

/*
 * The 32-bit FCnt that a 16-bit counter on air stands for, given the last 32-bit
 * value seen: the nearest value >= `last` whose low 16 bits are `f_cnt16` (so the
 * same value again is a retransmission; a smaller low half means the upper half
 * rolled over). Wraps modulo 2^32.
 */
uint32_t lg_fcnt_extend(uint32_t last, uint16_t f_cnt16);

/* ---- MAC commands (LoRaWAN 1.0.4 §5) ------------------------------------------ */

enum lg_mac_cid {
  LG_MAC_LINK_CHECK = 0x02,
  LG_MAC_LINK_ADR = 0x03,
  LG_MAC_DUTY_CYCLE = 0x04,
  LG_MAC_RX_PARAM_SETUP = 0x05,
  LG_MAC_DEV_STATUS = 0x06,
  LG_MAC_NEW_CHANNEL = 0x07,
  LG_MAC_RX_TIMING_SETUP = 0x08,
  LG_MAC_TX_PARAM_SETUP = 0x09,
  LG_MAC_DL_CHANNEL = 0x0a,
  LG_MAC_DEVICE_TIME = 0x0d,
  LG_MAC_PING_SLOT_INFO = 0x10,
  LG_MAC_PING_SLOT_CHANNEL = 0x11,
  LG_MAC_BEACON_FREQ = 0x13,
  LG_MAC_DEVICE_MODE = 0x20, /* DeviceModeInd / DeviceModeConf (LoRaWAN 1.1 §5.15) */
};

/* DeviceModeInd's class byte. */
enum { LG_DEVICE_CLASS_A = 0, LG_DEVICE_CLASS_C = 2 };

/*
 * One MAC command. `uplink` says the direction (and so whether cid means the Req
 * or the Ans): LinkCheckReq and DeviceTimeReq travel up, all other requests down.
 * Frequencies are in Hz and must be multiples of 100 Hz up to 2^24 * 100 to encode.
 */
struct lg_mac_cmd {
  uint8_t cid;
  bool uplink;
  union {
    struct {
      uint8_t margin_db, gw_cnt;
    } link_check_ans;
    struct {
      uint8_t dr, tx_power, ch_mask_cntl, nb_trans;
      uint16_t ch_mask;
    } link_adr_req;
    struct {
      bool power_ack, dr_ack, ch_mask_ack;
    } link_adr_ans;
    struct {
      uint8_t max_duty_cycle;
    } duty_cycle_req;
    struct {
      uint8_t rx1_dr_offset, rx2_dr;
      uint32_t freq_hz;
    } rx_param_setup_req;
    struct {
      bool rx1_dr_offset_ack, rx2_dr_ack, channel_ack;
    } rx_param_setup_ans;
    struct {
      uint8_t battery;
      int8_t margin_db;
    } dev_status_ans; /* margin -32..31 */
    struct {
      uint8_t ch_index, min_dr, max_dr;
      uint32_t freq_hz;
    } new_channel_req;
    struct {
      bool dr_range_ok, channel_freq_ok;
    } new_channel_ans;
    struct {
      uint8_t delay_s;
    } rx_timing_setup_req;
    struct {
      bool downlink_dwell, uplink_dwell;
      uint8_t max_eirp;
    } tx_param_setup_req;
    struct {
      uint8_t ch_index;
      uint32_t freq_hz;
    } dl_channel_req;
    struct {
      bool uplink_freq_exists, channel_freq_ok;
    } dl_channel_ans;
    struct {
      uint32_t gps_seconds;
      uint8_t fraction;
    } device_time_ans; /* fraction/256 s */
    struct {
      uint8_t periodicity;
    } ping_slot_info_req;
    struct {
      uint32_t freq_hz;
      uint8_t dr;
    } ping_slot_channel_req;
    struct {
      bool dr_ok, channel_freq_ok;
    } ping_slot_channel_ans;
    struct {
      uint32_t freq_hz;
    } beacon_freq_req;
    struct {
      bool beacon_freq_ok;
    } beacon_freq_ans;
    struct {
      uint8_t device_class; /* LG_DEVICE_CLASS_A or _C (1: RFU) */
    } device_mode;          /* DeviceModeInd up, DeviceModeConf down */
  } u;
};

/* Name of a command ("LinkADRReq"), or NULL when the CID is not a 1.0.4 command in
 * that direction. */
const char *lg_mac_name(uint8_t cid, bool uplink);

/* Payload length (without the CID byte) of a command, or -1 if unknown. */
int lg_mac_payload_len(uint8_t cid, bool uplink);

/*
 * Parses the MAC commands in `buf` (FOpts or a FPort-0 FRMPayload) sent in direction
 * `uplink`. Fills out[0..*count). On error *count holds the commands parsed before the
 * bad one and *bad_offset its offset. Errors: LG_EUNKNOWN (CID not defined in
 * 1.0.4 for that direction — its length is unknown, so parsing stops rather than
 * guess), LG_ETRUNC (a command is cut short), LG_ENOSPC (more than `cap` commands).
 */
int lg_mac_parse(const uint8_t *buf, size_t len, bool uplink, struct lg_mac_cmd *out, size_t cap,
                 size_t *count, size_t *bad_offset);

/* Appends the encoding of *cmd (CID and payload) to out[*len..cap); advances *len.
 * Errors: LG_EUNKNOWN, LG_EINVAL (a field out of its bit width), LG_ENOSPC. */
int lg_mac_encode(const struct lg_mac_cmd *cmd, uint8_t *out, size_t cap, size_t *len);

#endif
