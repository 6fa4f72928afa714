/*
 * GET /metrics: the server's counters and gauges in the Prometheus text format (0.0.4),
 * by topic, in the order operators' dashboards read them. Reads lg_ns_metrics only.
 */
#include <stddef.h>

#include "api/api.h"
#include "api/api_int.h"
#include "fleet/alarms.h"
#include "geo/geo.h"
#include "util/outbuf.h"
#include "util/util.h"

#define COUNTER(name, help, v)                                                                     \
  lg_out_printf(b, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n",           \
                (unsigned long long)(v))
#define GAUGE(name, help, v)                                                                       \
  lg_out_printf(b, "# HELP " name " " help "\n# TYPE " name " gauge\n" name " %llu\n",             \
                (unsigned long long)(v))

/* A counter with one label of two values, in the Prometheus text format. */
static void counter_pair(struct lg_outbuf *b, const char *name, const char *help, const char *label,
                         const char *v0, uint64_t n0, const char *v1, uint64_t n1) {
  lg_out_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s{%s=\"%s\"} %llu\n%s{%s=\"%s\"} %llu\n",
                name, help, name, name, label, v0, (unsigned long long)n0, name, label, v1,
                (unsigned long long)n1);
}

/* The methods whose live accuracy reference devices measure (geo/live.c), "auto" being
 * what the server reports; /metrics and GET /api/geo/accuracy give them. */
const enum lg_geo_method lg_api_reference_methods[LG_API_REFERENCE_METHODS] = {
    LG_GEO_AUTO, LG_GEO_NLS, LG_GEO_FINGERPRINT, LG_GEO_CENTROID, LG_GEO_RSSI};

static void reference_metrics(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  lg_out_printf(b,
                "# HELP lorageo_reference_frames_total Uplinks of reference devices that carried "
                "their position.\n# TYPE lorageo_reference_frames_total counter\n"
                "lorageo_reference_frames_total %llu\n",
                (unsigned long long)(m->live ? lg_geo_live_references(m->live) : 0));
  lg_out_printf(b,
                "# HELP lorageo_reference_payload_errors_total Uplinks of reference devices whose "
                "payload held no position.\n"
                "# TYPE lorageo_reference_payload_errors_total counter\n"
                "lorageo_reference_payload_errors_total %llu\n",
                (unsigned long long)atomic_load(&m->reference_payload_errors));
  lg_out_printf(b, "# HELP lorageo_reference_error_m Distance of each method's fix from reference "
                   "devices' own positions, over their last uplinks.\n"
                   "# TYPE lorageo_reference_error_m gauge\n");
  for (size_t i = 0; m->live && i < LG_API_REFERENCE_METHODS; i++) {
    size_t n;
    double med, p90;
    if (lg_geo_live_accuracy(m->live, lg_api_reference_methods[i], &n, &med, &p90) != 0) continue;
    const char *name = lg_geo_method_name(lg_api_reference_methods[i]);
    lg_out_printf(b,
                  "lorageo_reference_error_m{method=\"%s\",quantile=\"0.5\"} %.1f\n"
                  "lorageo_reference_error_m{method=\"%s\",quantile=\"0.9\"} %.1f\n",
                  name, med, name, p90);
  }
}

/* What came in from gateways and what became of it. */
static void packet_path(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  COUNTER("lorageo_gateway_datagrams_total", "UDP datagrams received from gateways.",
          atomic_load(&m->datagrams));
  lg_out_printf(b, "# HELP lorageo_rx_dropped_total Datagrams or receptions not used, by reason.\n"
                   "# TYPE lorageo_rx_dropped_total counter\n");
  for (int i = 0; i < LG_DROP_COUNT; i++)
    lg_out_printf(b, "lorageo_rx_dropped_total{reason=\"%s\"} %llu\n",
                  lg_drop_name((enum lg_drop)i), (unsigned long long)atomic_load(&m->dropped[i]));
  COUNTER("lorageo_gateway_moves_total",
          "Gateways whose pinned source address moved ([security] gateway_move_after_s).",
          atomic_load(&m->gateway_moves));
  COUNTER("lorageo_receptions_total", "Gateway receptions of LoRa frames.",
          atomic_load(&m->receptions));
  COUNTER("lorageo_dwell_time_exceeded_total",
          "Uplinks on air longer than the region's 400 ms dwell time (counted, not dropped).",
          atomic_load(&m->dwell_uplinks));
  COUNTER("lorageo_queue_discarded_total",
          "Queued downlinks removed: larger than the downlink's data rate allows.",
          atomic_load(&m->queue_discarded));
  COUNTER("lorageo_timing_outliers_total",
          "Receptions kept out of a fix: their time disagreed with the frame's other "
          "receptions and the gateways' positions.",
          atomic_load(&m->timing_outliers));
  COUNTER("lorageo_uplinks_total", "De-duplicated device uplinks accepted.",
          atomic_load(&m->uplinks));
  COUNTER("lorageo_duplicates_total", "Copies folded into an open de-duplication window.",
          atomic_load(&m->duplicates));
  COUNTER("lorageo_late_copies_total", "Copies attached after the window.",
          atomic_load(&m->late_copies));
  COUNTER("lorageo_retransmissions_total", "Uplinks repeating the last frame counter.",
          atomic_load(&m->retransmissions));
  COUNTER("lorageo_joins_total", "Join-accepts sent.", atomic_load(&m->joins));
}

/* The fleet's alarms by kind (docs/fleet.md). */
static void fleet(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  static const struct {
    const char *name, *help, *type;
    size_t off;
  } alarm_series[] = {
      /* the fleet's alarms by kind (docs/fleet.md) */
      {"lorageo_alarms_raised_total", "Fleet alarms raised (a raise while open counted again).",
       "counter", offsetof(struct lg_ns_metrics, alarms_raised)},
      {"lorageo_alarms_cleared_total", "Fleet alarms cleared.", "counter",
       offsetof(struct lg_ns_metrics, alarms_cleared)},
      {"lorageo_alarms_open", "Fleet alarms open now.", "gauge",
       offsetof(struct lg_ns_metrics, alarms_open)}};
  for (size_t k = 0; k < LG_ARRAY_LEN(alarm_series); k++) {
    lg_out_printf(b, "# HELP %s %s\n# TYPE %s %s\n", alarm_series[k].name, alarm_series[k].help,
                  alarm_series[k].name, alarm_series[k].type);
    const atomic_uint_fast64_t *v =
        (const atomic_uint_fast64_t *)(const void *)((const char *)m + alarm_series[k].off);
    for (int i = 0; i < LG_ALARM_KIND_COUNT; i++)
      lg_out_printf(b, "%s{kind=\"%s\"} %llu\n", alarm_series[k].name,
                    lg_alarm_kind_name((enum lg_alarm_kind)i),
                    (unsigned long long)atomic_load(&v[i]));
  }
}

/* Class C, multicast, the cluster, and downlinks by result. */
static void downlinks(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  COUNTER("lorageo_class_c_downlinks_total", "Downlinks sent at once to Class C devices.",
          atomic_load(&m->class_c_downlinks));
  COUNTER("lorageo_multicast_downlinks_total", "Multicast group frames sent.",
          atomic_load(&m->multicast_downlinks));
  COUNTER("lorageo_multicast_transmissions_total",
          "Transmissions of multicast frames (one per gateway of a group's cover).",
          atomic_load(&m->multicast_transmissions));
  COUNTER("lorageo_cluster_recovered_total",
          "Frames of a silent instance picked up and processed here.",
          atomic_load(&m->cluster_recovered));
  COUNTER("lorageo_cluster_downlinks_out_total",
          "Downlinks handed to the instance holding the gateway's PULL path.",
          atomic_load(&m->cluster_dl_out));
  COUNTER("lorageo_cluster_downlinks_in_total",
          "Downlinks sent through a gateway held here for another instance.",
          atomic_load(&m->cluster_dl_in));
  lg_out_printf(b, "# HELP lorageo_downlinks_total Downlinks by result.\n# TYPE "
                   "lorageo_downlinks_total counter\n");
  for (int i = 0; i < LG_DL_COUNT; i++)
    lg_out_printf(b, "lorageo_downlinks_total{result=\"%s\"} %llu\n",
                  lg_dl_result_name((enum lg_dl_result)i),
                  (unsigned long long)atomic_load(&m->downlinks[i]));
}

/* Positions by method, their stated accuracy, and what reference devices measure. */
static void geolocation(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  lg_out_printf(b, "# HELP lorageo_locations_total Positions computed, by method.\n"
                   "# TYPE lorageo_locations_total counter\n");
  for (int i = 1; i < LG_GEO_METHOD_COUNT; i++)
    lg_out_printf(b, "lorageo_locations_total{method=\"%s\"} %llu\n",
                  lg_geo_method_name((enum lg_geo_method)i),
                  (unsigned long long)atomic_load(&m->locations[i]));
  lg_out_printf(b,
                "# HELP lorageo_location_accuracy_m Accuracy estimates of the positions computed.\n"
                "# TYPE lorageo_location_accuracy_m histogram\n");
  for (int i = 0; i < LG_NS_ACCURACY_BUCKETS; i++) {
    if (i < LG_NS_ACCURACY_BUCKETS - 1)
      lg_out_printf(b, "lorageo_location_accuracy_m_bucket{le=\"%g\"} %llu\n",
                    lg_ns_accuracy_bounds_m[i],
                    (unsigned long long)atomic_load(&m->accuracy_le[i]));
    else
      lg_out_printf(b, "lorageo_location_accuracy_m_bucket{le=\"+Inf\"} %llu\n",
                    (unsigned long long)atomic_load(&m->accuracy_le[i]));
  }
  lg_out_printf(b, "lorageo_location_accuracy_m_sum %.3f\nlorageo_location_accuracy_m_count %llu\n",
                (double)atomic_load(&m->accuracy_sum_mm) / 1000.0,
                (unsigned long long)atomic_load(&m->accuracy_le[LG_NS_ACCURACY_BUCKETS - 1]));
  reference_metrics(b, m);
}

/* ADR decisions and the link map. */
static void adr(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  counter_pair(b, "lorageo_adr_decisions_total",
               "ADR decisions, by whether they change the device.", "change", "false",
               atomic_load(&m->adr_decisions[0]), "true", atomic_load(&m->adr_decisions[1]));
  GAUGE("lorageo_adr_link_cells",
        "(gateway, 250 m cell) links ADR has learned from static devices ([adr] learned).",
        atomic_load(&m->adr_link_cells));
  COUNTER("lorageo_adr_link_refused_total",
          "New (gateway, cell) links not learned: the map is at its cap.",
          atomic_load(&m->adr_link_refused));
  COUNTER("lorageo_adr_link_uplinks_total",
          "Uplinks of devices predictive takes to be static that the link map learned from.",
          atomic_load(&m->adr_link_uplinks));
  COUNTER("lorageo_adr_link_save_errors_total",
          "Writes of the link map to [adr] learned that failed (it is written again later).",
          atomic_load(&m->adr_link_save_errors));
}

/* Open frames, what was shed under the caps, storage and the journal. */
static void capacity(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  GAUGE("lorageo_dedup_open_windows", "Frames whose de-duplication window is open.",
        atomic_load(&m->open_windows));
  COUNTER("lorageo_same_gateway_copies_total",
          "Second copies of a frame from a gateway that gave it a reception already (not kept).",
          atomic_load(&m->dup_same_gateway));
  lg_out_printf(b, "# HELP lorageo_shed_total Work given up under a memory cap, by reason.\n"
                   "# TYPE lorageo_shed_total counter\n");
  for (int i = 0; i < LG_SHED_COUNT; i++)
    lg_out_printf(b, "lorageo_shed_total{reason=\"%s\"} %llu\n", lg_shed_name((enum lg_shed)i),
                  (unsigned long long)atomic_load(&m->shed[i]));
  GAUGE("lorageo_unknown_gateways", "Unprovisioned gateway EUIs held in memory.",
        atomic_load(&m->unknown_gateways));
  COUNTER("lorageo_store_errors_total", "Database writes and commits that failed.",
          atomic_load(&m->store_errors));
  GAUGE("lorageo_store_down", "1 while storage fails (frames wait in the journal).",
        atomic_load(&m->store_down));
  COUNTER("lorageo_journal_records_total", "Datagrams written to the journal.",
          atomic_load(&m->journal_records));
  COUNTER("lorageo_journal_errors_total", "Journal writes that failed (not acknowledged).",
          atomic_load(&m->journal_errors));
  COUNTER("lorageo_journal_replayed_total", "Journal records run through the pipeline again.",
          atomic_load(&m->journal_replayed));
  COUNTER("lorageo_journal_already_stored_total",
          "Frames run again from the journal that were stored already (not stored twice).",
          atomic_load(&m->journal_skipped));
  GAUGE("lorageo_journal_lag_records", "Journal records after the checkpoint (not yet stored).",
        atomic_load(&m->journal_lag));
  GAUGE("lorageo_journal_bytes", "Size of the journal's segments.", atomic_load(&m->journal_bytes));
}

/* MQTT, the integration queue, codecs and webhooks. */
static void integrations(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  COUNTER("lorageo_mqtt_published_total", "Events handed to the MQTT broker connection.",
          atomic_load(&m->mqtt_published));
  COUNTER("lorageo_mqtt_dropped_total", "Events lost because the MQTT waiting queue was full.",
          atomic_load(&m->mqtt_dropped));
  counter_pair(b, "lorageo_mqtt_commands_total", "command/down messages, by result.", "result",
               "refused", atomic_load(&m->mqtt_commands[0]), "enqueued",
               atomic_load(&m->mqtt_commands[1]));
  GAUGE("lorageo_mqtt_waiting", "Events waiting for the MQTT broker.",
        atomic_load(&m->mqtt_waiting));
  GAUGE("lorageo_mqtt_connected", "1 while connected to the MQTT broker.",
        atomic_load(&m->mqtt_connected));
  COUNTER("lorageo_integration_dropped_total",
          "Events lost because the integration queue (codecs, MQTT, webhooks) was full.",
          atomic_load(&m->integ_dropped));
  COUNTER("lorageo_uplinks_over_limit_total",
          "Uplinks past their profile's max_uplinks_per_day within 24 h (kept and forwarded).",
          atomic_load(&m->uplinks_over_limit));
  counter_pair(b, "lorageo_codec_uplinks_total", "Uplinks run through their device's codec.",
               "result", "decoded", atomic_load(&m->codec_decoded), "error",
               atomic_load(&m->codec_errors));
  counter_pair(b, "lorageo_webhook_requests_total", "Webhook POSTs, by result.", "result", "failed",
               atomic_load(&m->webhook_requests[0]), "ok", atomic_load(&m->webhook_requests[1]));
  COUNTER("lorageo_webhook_sent_total", "Events delivered to the webhook (a 2xx answer).",
          atomic_load(&m->webhook_sent));
  counter_pair(b, "lorageo_webhook_dropped_total", "Webhook events given up, by reason.", "reason",
               "queue_full", atomic_load(&m->webhook_dropped[0]), "attempts",
               atomic_load(&m->webhook_dropped[1]));
  GAUGE("lorageo_webhook_waiting", "Events waiting for the webhook.",
        atomic_load(&m->webhook_waiting));
}

/* LoRa Basics Station connections and messages. */
static void stations(struct lg_outbuf *b, const struct lg_ns_metrics *m) {
  GAUGE("lorageo_station_connected", "LoRa Basics Station traffic connections open.",
        atomic_load(&m->station_connected));
  static const char *const st_types[] = {"other",  "version", "updf",    "jreq",
                                         "propdf", "dntxed",  "timesync"};
  lg_out_printf(b, "# HELP lorageo_station_messages_total Basics Station messages, by msgtype.\n"
                   "# TYPE lorageo_station_messages_total counter\n");
  for (size_t i = 0; i < LG_ARRAY_LEN(st_types); i++)
    lg_out_printf(b, "lorageo_station_messages_total{msgtype=\"%s\"} %llu\n", st_types[i],
                  (unsigned long long)atomic_load(&m->station_messages[i]));
  COUNTER("lorageo_station_malformed_total",
          "Basics Station messages refused: not JSON, a field missing or out of range.",
          atomic_load(&m->station_malformed));
  COUNTER("lorageo_station_refused_total",
          "Basics Station connections refused: wrong token or certificate, unknown gateway, full.",
          atomic_load(&m->station_refused));
  COUNTER("lorageo_station_router_info_total", "Basics Station /router-info discoveries answered.",
          atomic_load(&m->station_router_info));
  COUNTER("lorageo_station_dnmsg_total", "Downlinks sent to Basics Stations (dnmsg).",
          atomic_load(&m->station_dnmsg));
  COUNTER("lorageo_station_dntxed_total", "Downlinks Basics Stations confirmed sent (dntxed).",
          atomic_load(&m->station_dntxed));
}

void lg_api_metrics_text(const struct lg_ns_metrics *m, struct lg_outbuf *b) {
  packet_path(b, m);
  fleet(b, m);
  downlinks(b, m);
  geolocation(b, m);
  adr(b, m);
  capacity(b, m);
  integrations(b, m);
  stations(b, m);
}
