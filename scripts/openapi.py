#!/usr/bin/env python3
"""Writes docs/openapi.json, the OpenAPI 3 description of lorageo's HTTP API (served at
/api/openapi.json). Edit here and run `python3 scripts/openapi.py`; the tests check the
result against src/api/routes.c (test_openapi) and against the server's real answers
(tests/crosscheck/openapi.mjs)."""
import json, os

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def obj(props, required=None, desc=None):
    o = {"type": "object", "properties": props}
    if required: o["required"] = required
    if desc: o["description"] = desc
    return o
S = lambda d=None, **kw: dict({"type": "string"}, **({"description": d} if d else {}), **kw)
I = lambda d=None, **kw: dict({"type": "integer"}, **({"description": d} if d else {}), **kw)
N = lambda d=None, **kw: dict({"type": "number"}, **({"description": d} if d else {}), **kw)
B = lambda d=None: dict({"type": "boolean"}, **({"description": d} if d else {}))
nullable = lambda s: dict(s, nullable=True)
EUI = S("16 hex digits, big-endian", pattern="^[0-9a-fA-F]{16}$")
KEY = S("32 hex digits", pattern="^[0-9a-fA-F]{32}$")
NS = I("ns since the Unix epoch (a 64-bit integer: JavaScript rounds it)", format="int64")
NS_STR = S("the same as a decimal string (as protobuf's JSON mapping writes 64-bit integers)", pattern="^[0-9]+$")

def page(item):
    return obj({"items": {"type": "array", "items": ref(item)},
                "next": nullable(S("the cursor of the next page: give it as ?after=; null on the last page"))},
               ["items", "next"])

schemas = {
    "Error": obj({"error": S("what is wrong, naming the field")}, ["error"]),
    "Health": obj({"status": S(enum=["ok"]), "time_ns": I("the server's clock (ns since the Unix epoch; [server] time_scale runs it faster)")}, ["status"]),
    "Empty": obj({}),
    "GatewayLinks": obj({"gateway_eui": EUI, "cell_m": N("the cells' size, m (0: no link map)"),
                         "total": I("cells learned (items holds at most 4,096)"),
                         "items": {"type": "array", "items": obj({
                             "latitude": N("the cell's centre"), "longitude": N(),
                             "heard": I("uplinks there (of static and reference devices) the gateway heard"),
                             "missed": I("... and missed"),
                             "level_db": nullable(N("mean RSSI - TX power, censored fit (null until the cell has 8 uplinks, 3 heard)")),
                             "sigma_db": nullable(N("its spread"))},
                             ["latitude", "longitude", "heard", "missed", "level_db", "sigma_db"])}},
                        ["gateway_eui", "cell_m", "total", "items"]),
    "Gateway": obj({"gateway_eui": EUI, "name": S(), "latitude": nullable(N()), "longitude": nullable(N()),
                    "altitude": nullable(N()), "last_seen_ns": nullable(NS), "rx_packets": I(),
                    "timing_offset_ns": N("subtracted from its receive times"),
                    "position_from_gateway": B("its stat (GPS) position wins over the surveyed one"),
                    "has_station_token": B("a Basics Station token is set (never shown)"),
                    "online": B("seen (a stat, PULL_DATA or uplink) within [api] gateway_online_s (60 s); "
                                "last_seen_ns is written at most every 10 s")},
                   ["gateway_eui", "name", "latitude", "longitude", "altitude", "rx_packets", "timing_offset_ns",
                    "position_from_gateway", "has_station_token", "online"]),
    "GatewayIn": obj({"gateway_eui": EUI, "name": S(maxLength=63), "latitude": N(minimum=-90, maximum=90),
                      "longitude": N(minimum=-180, maximum=180), "altitude": N(), "timing_offset_ns": N(),
                      "station_token": nullable(S("16..512 characters; kept as its SHA-256; \"\" or null clears it")),
                      "position_from_gateway": B()}, ["gateway_eui"], "unknown keys are refused (400, the key named)"),
    "Device": obj({"dev_eui": EUI, "name": S(), "adr": S("as it applies (its profile's when inherited)",
                                                        enum=["off", "standard", "eadr", "predictive"]),
                   "activation": S(enum=["otaa", "abp"]), "join_eui": EUI, "dev_addr": nullable(S(pattern="^[0-9a-f]{8}$")),
                   "f_cnt_up_next": I(), "f_cnt_down_next": I(), "fcnt_resets_allowed": B(), "reference": B(),
                   "class": S(enum=["A", "C"]), "application_id": I(), "profile_id": nullable(I()),
                   "inherited": {"type": "array", "items": S(enum=["adr", "class", "reference"]),
                                 "description": "the settings its profile gives it"},
                   "battery": nullable(I()), "margin_db": nullable(I()), "last_seen_ns": nullable(NS),
                   "tx_power_index": I(), "nb_trans": I(), "adr_pending": nullable(obj({"dr": I(), "tx_power_index": I(), "nb_trans": I()})),
                   "tags": obj({}, desc="key: value strings"), "hardware": S(), "firmware": S(),
                   "lifecycle": S("provisioned, active from its first uplink, silent past its expected intervals, retired by an operator",
                                  enum=["provisioned", "active", "silent", "retired"]),
                   "lifecycle_dates": obj({"provisioned_ns": nullable(NS), "active_ns": nullable(NS), "silent_ns": nullable(NS),
                                           "retired_ns": nullable(NS)}, desc="when it last entered each state")},
                  ["dev_eui", "name", "adr", "activation", "dev_addr", "fcnt_resets_allowed", "reference", "class",
                   "application_id", "profile_id", "inherited", "last_seen_ns", "tx_power_index", "nb_trans"],
                  "keys are never returned"),
    "DeviceIn": obj({"dev_eui": EUI, "name": S(maxLength=63), "adr": nullable(S(enum=["off", "standard", "eadr", "predictive"])),
                     "class": nullable(S(enum=["A", "C"])), "reference": nullable(B()),
                     "join_eui": EUI, "app_key": KEY, "dev_addr": S(pattern="^[0-9a-fA-F]{8}$"), "nwk_s_key": KEY,
                     "app_s_key": KEY, "fcnt_resets_allowed": B("ABP only"), "application_id": I(minimum=1),
                     "profile_id": nullable(I(minimum=1)),
                     "tags": obj({}, desc="at most 16; keys 1..32 of [A-Za-z0-9_.-], values strings of at most 64 (a PATCH replaces them all)"),
                     "hardware": S(maxLength=63), "firmware": S(maxLength=63),
                     "lifecycle": S("PATCH only: retired, or provisioned to bring a retired device back", enum=["retired", "provisioned"])},
                    ["dev_eui"],
                    "OTAA: app_key and join_eui; ABP: dev_addr, nwk_s_key, app_s_key. adr, class and reference "
                    "left out (or null in a PATCH) come from the device profile. PATCH refuses what names the device "
                    "or its session (dev_eui, activation, keys, dev_addr) with the reason; unknown keys are refused."),
    "RxInfo": obj({"gateway_eui": EUI, "time": S("RFC 3339 with ns"), "time_ns": NS, "time_ns_str": NS_STR,
                   "time_sigma_ns": N(), "tmst": nullable(I()), "rssi": N(), "snr": N(), "channel": I(),
                   "latitude": nullable(N()), "longitude": nullable(N()), "altitude": nullable(N()),
                   "late": B(), "timing_outlier": B(), "antennas": {"type": "array", "items": obj({})}},
                  ["gateway_eui", "tmst", "rssi", "snr", "channel", "late", "antennas"]),
    "Uplink": obj({"dev_eui": EUI, "dev_addr": S(), "f_cnt": I(), "f_port": nullable(I()), "data": S("base64"),
                   "confirmed": B(), "adr": B(), "dr": I(), "frequency": I(), "received_ns": NS,
                   "truth": obj({"latitude": N(), "longitude": N(), "altitude": nullable(N())}),
                   "rx_info": {"type": "array", "items": ref("RxInfo")}},
                  ["dev_eui", "dev_addr", "f_cnt", "f_port", "data", "confirmed", "adr", "dr", "frequency", "received_ns", "rx_info"],
                  "the MQTT event/up message has the same keys"),
    "Event": obj({"type": S("up, join, location, downlink, ack, nack, adr, status, reset, queue_discarded, ..."), "time_ns": NS,
                  "time_ns_str": NS_STR, "payload": obj({})}, ["type", "time_ns", "time_ns_str", "payload"]),
    "FeedEvent": {"allOf": [ref("Event"), obj({"id": I("the feed's cursor"), "dev_eui": EUI,
                                                "name": nullable(S("the device's name (null: deleted since)"))},
                                               ["id", "dev_eui", "name"])]},
    "EventFeed": obj({"items": {"type": "array", "items": ref("FeedEvent")},
                      "next": nullable(S("with ?since: the last id given while more wait; else the next page's ?after=")),
                      "last_id": I("the newest event's id (0: none): ?since= it follows what comes next")},
                     ["items", "next", "last_id"]),
    "WhoAmI": obj({"auth": S("how the request was let in", enum=["open", "token", "api_key"]),
                   "admin": B("every application (else application_id's only)"),
                   "application_id": nullable(I("the API key's application (null: admin)")),
                   "read_only": B("GET only: any other method answers 403"),
                   "key_id": nullable(I("the API key's id")), "key_name": nullable(S()),
                   "gateway_online_s": I("[api] gateway_online_s: a gateway seen within it is online")},
                  ["auth", "admin", "application_id", "read_only", "key_id", "key_name", "gateway_online_s"]),
    "Downlink": obj({"f_cnt": I(), "f_port": nullable(I()), "confirmed": B(), "ack": B("it carried an ACK"),
                     "mac_bytes": I(), "state": S(enum=["sent", "awaiting_ack", "acknowledged", "nacked"]),
                     "created_ns": nullable(NS), "acked_ns": nullable(NS)},
                    ["f_cnt", "f_port", "confirmed", "ack", "mac_bytes", "state", "created_ns", "acked_ns"]),
    "AdrDecision": obj({"f_cnt": I(), "algorithm": S(), "change": B(), "dr_from": I(), "dr_to": I(),
                        "tx_power_index_from": I(), "tx_power_index_to": I(), "nb_trans_from": I(), "nb_trans_to": I(),
                        "snr_margin_db": N(), "reason": S(), "state": S(), "created_ns": NS},
                       ["f_cnt", "algorithm", "change", "dr_from", "dr_to", "reason", "created_ns"]),
    "Location": obj({"latitude": N(), "longitude": N(), "altitude": N(), "accuracy_m": N(), "method": S(),
                     "gateways": I(), "f_cnt": I(), "gdop": nullable(N()), "uplink_id": I(), "created_ns": NS,
                     "accuracy_95_m": nullable(N()), "track": obj({}), "outlier": B()},
                    ["latitude", "longitude", "accuracy_m", "method", "gateways", "f_cnt", "created_ns"]),
    "QueueItem": obj({"id": I(), "f_port": I(), "data": S("base64"), "confirmed": B(), "created_ns": nullable(NS)},
                     ["id", "f_port", "data", "confirmed", "created_ns"]),
    "QueueIn": obj({"f_port": I(minimum=1, maximum=223), "data": S("base64"), "confirmed": B()}, ["f_port", "data"]),
    "DeviceQueueIn": obj({"f_port": I(minimum=1, maximum=223), "data": S("base64"), "confirmed": B(),
                          "object": {"type": "object", "description": "instead of data: encoded by the device's payload codec (encodeDownlink)"}}),
    "Queued": obj({"queued": B(), "bytes": I()}, ["queued", "bytes"]),
    "Deleted": obj({"deleted": I("how many were removed")}, ["deleted"]),
    "Application": obj({"id": I(), "name": S(), "description": S(), "devices": I(), "created_ns": NS},
                       ["id", "name", "description", "devices", "created_ns"]),
    "ApplicationIn": obj({"name": S(minLength=1, maxLength=63), "description": S(maxLength=255)}, [],
                         "POST needs name"),
    "Profile": obj({"id": I(), "name": S(), "region": S(), "class": S(enum=["A", "C"]),
                    "mac_version": S(enum=["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.1.0"]),
                    "adr_algorithm": S(enum=["off", "standard", "eadr", "predictive"]),
                    "adr_margin_db": nullable(N("ADR's installation margin for its devices (null: [adr] installation_margin_db)")),
                    "uplink_interval_s": nullable(I("expected")), "payload_codec": S("a codec's name (\"\": none)"),
                    "reference": B("its devices carry their GPS position"),
                    "max_uplinks_per_day": nullable(I()), "max_downlinks_per_day": nullable(I("queueing past it: 429")),
                    "created_ns": NS, "updated_ns": NS, "alarm_thresholds": obj({}),
                    "adr_target": nullable(N("predictive's delivery target for its devices (null: [adr] target_delivery)"))},
                   ["id", "name", "region", "class", "mac_version", "adr_algorithm", "adr_margin_db", "uplink_interval_s",
                    "payload_codec", "reference", "max_uplinks_per_day", "max_downlinks_per_day", "created_ns", "updated_ns"]),
    "ProfileIn": obj({"name": S(minLength=1, maxLength=63), "region": S("the server's [network] region"),
                      "class": S(enum=["A", "C"]), "mac_version": S(), "adr_algorithm": S(), "adr_margin_db": nullable(N(minimum=0, maximum=30)),
                      "adr_target": nullable(N(minimum=0.5, maximum=0.9999)),
                      "uplink_interval_s": nullable(I()), "payload_codec": S(), "reference": B(),
                      "max_uplinks_per_day": nullable(I()), "max_downlinks_per_day": nullable(I()),
                      "alarm_thresholds": obj({}, desc="thresholds of the alarm rules by name (docs/fleet.md), over the defaults; "
                                                       "\"enabled\": {kind: bool}")}, [], "POST needs name"),
    "ApiKey": obj({"id": I(), "name": S(), "application_id": nullable(I("null: an admin key")), "read_only": B(),
                   "created_ns": NS, "revoked_ns": nullable(NS)},
                  ["id", "name", "application_id", "read_only", "created_ns", "revoked_ns"]),
    "ApiKeyCreated": {"allOf": [ref("ApiKey"), obj({"key": S("lgk_ and 64 hex digits: shown this once; send as Authorization: Bearer")}, ["key"])]},
    "ApiKeyIn": obj({"name": S(minLength=1, maxLength=63), "application_id": nullable(I(minimum=1)), "read_only": B()}, ["name"]),
    "Map": obj({"gateways": {"type": "array", "items": ref("Gateway")}, "devices": {"type": "array", "items": obj({})},
                "last_id": I()}, ["gateways", "devices", "last_id"]),
    "Accuracy": obj({"reference_frames": I(), "payload_errors": I(), "methods": obj({}), "timing_noise_factor": N()},
                    ["reference_frames", "payload_errors", "methods"]),
    "MulticastGroup": obj({"id": I(), "name": S(), "mc_addr": S(), "f_cnt": I(), "frequency": nullable(I()),
                           "dr": nullable(I()), "devices": {"type": "array", "items": EUI}},
                          ["id", "name", "mc_addr", "f_cnt", "frequency", "dr"]),
    "MulticastIn": obj({"name": S(), "mc_addr": S(), "mc_nwk_s_key": KEY, "mc_app_s_key": KEY, "frequency": I(),
                        "dr": I(), "f_cnt": I()}, ["mc_addr", "mc_nwk_s_key", "mc_app_s_key"]),
    "MemberIn": obj({"dev_eui": EUI}, ["dev_eui"]),
    "Webhook": obj({"id": I(), "application_id": I(), "url": S(), "headers": {"type": "object", "additionalProperties": S()},
                    "events": {"type": "array", "items": S()}, "format": S(enum=["lorageo", "chirpstack"]), "created_ns": NS},
                   ["id", "application_id", "url", "headers", "events", "format"]),
    "WebhookList": obj({"items": {"type": "array", "items": ref("Webhook")}}, ["items"]),
    "WebhookIn": obj({"url": S("http:// or https://"), "headers": {"type": "object", "additionalProperties": S()},
                      "events": {"type": "array", "items": S("up, join, location, ack, nack, ... (none: all)")},
                      "format": S(enum=["lorageo", "chirpstack"])}, ["url"]),
    "ImportIn": obj({"devices": {"type": "array", "items": ref("DeviceIn")},
                     "csv": S("the inventory as CSV: a header naming columns among dev_eui, name, join_eui, app_key, dev_addr, "
                              "nwk_s_key, app_s_key, application_id, profile_id, class, adr, reference, hardware, firmware, "
                              "tags (key=value;key=value), fcnt_resets_allowed")},
                    desc="one of devices or csv (a body of Content-Type text/csv is the same as csv)"),
    "Imported": obj({"imported": I()}, ["imported"]),
    "ImportRefused": obj({"error": S(), "refused": I(), "rows": I(),
                          "errors": {"type": "array", "items": obj({"row": I("1: the first device"), "dev_eui": nullable(S()), "error": S()})}},
                         ["error", "refused", "rows", "errors"], "nothing was imported"),
    "Export": obj({"devices": {"type": "array", "items": ref("Device")}}, ["devices"]),
    "Alarm": obj({"id": I(), "kind": S(enum=["reboot", "silent", "frame_loss", "battery_low", "margin_falling", "mic_burst",
                                                "gateway_silent", "gateway_clock", "position_jump"]),
                  "subject_type": S(enum=["device", "gateway", "dev_addr"]), "subject": S("an EUI or a DevAddr, hex"),
                  "raised_ns": NS, "cleared_ns": nullable(NS), "open": B(), "value": nullable(N()), "threshold": nullable(N()),
                  "detail": S(), "clear_detail": nullable(S()), "raises": I("raises while open"), "acknowledged": B(),
                  "acked_ns": nullable(NS), "acked_by": nullable(S()), "ack_note": nullable(S())},
                 ["id", "kind", "subject_type", "subject", "raised_ns", "cleared_ns", "open", "detail", "raises", "acknowledged"]),
    "AckIn": obj({"by": S(minLength=1, maxLength=64), "note": S(maxLength=500)}, ["by"]),
    "Config": obj({"dev_eui": EUI, "desired": obj({}), "reported": obj({}), "in_sync": B(),
                   "pending": {"type": "array", "items": S()}, "pending_since_ns": nullable(NS), "updated_ns": nullable(NS)},
                  ["dev_eui", "desired", "reported", "in_sync", "pending", "pending_since_ns", "updated_ns"]),
    "ConfigIn": obj({"adr_algorithm": nullable(S(enum=["off", "standard", "eadr", "predictive"])),
                     "adr_margin_db": nullable(N(minimum=0, maximum=30)), "max_dr": nullable(I(minimum=0, maximum=15)),
                     "min_tx_power_index": nullable(I(minimum=0, maximum=15)),
                     "channel_mask": nullable(S("4 hex digits, bit 0: channel 0", pattern="^[0-9a-fA-F]{4}$")),
                     "rx1_dr_offset": nullable(I(minimum=0, maximum=7)), "rx2_dr": nullable(I(minimum=0, maximum=15)),
                     "rx2_frequency": nullable(I()), "uplink_interval_s": nullable(I(minimum=1, maximum=2592000)),
                     "app_params": nullable(S("hex, 1..32 bytes"))}, [],
                    "the desired fields given (null removes one); rx1_dr_offset, rx2_dr and rx2_frequency go together"),
    "ConfigChange": obj({"id": I(), "field": S(), "value": {}, "action": S("desired, removed, sent, retried, applied, refused, failed"),
                         "detail": S(), "time_ns": NS}, ["id", "field", "action", "detail", "time_ns"]),
    "FleetDevice": obj({"dev_eui": EUI, "name": S(), "lifecycle": S(enum=["provisioned", "active", "silent", "retired"]),
                        "last_seen_ns": nullable(NS), "battery": nullable(I("DevStatusAns: 1..254, 0 external power, 255 unknown")),
                        "alarms": {"type": "array", "items": S(), "description": "the kinds of its open alarms"},
                        "config_pending_since_ns": nullable(NS),
                        "health": S("the first that holds: retired; alarm (an open alarm, or silent); pending (a desired "
                                    "configuration not yet reported); provisioned (never heard); ok",
                                    enum=["retired", "alarm", "pending", "provisioned", "ok"])},
                       ["dev_eui", "name", "lifecycle", "last_seen_ns", "battery", "alarms", "config_pending_since_ns", "health"]),
    "FleetSummary": obj({"devices": I(), "lifecycle": obj({}, desc="devices by state (all four states)"),
                         "alarms_open": obj({}, desc="open alarms by kind (devices, gateways, DevAddrs)"),
                         "config": obj({"in_sync": I(), "pending": I()}, desc="devices with a desired configuration"),
                         "attention": {"type": "array", "items": ref("FleetDevice"),
                                       "description": "devices not retired that are silent, have an open alarm or a configuration "
                                                      "pending, by DevEUI (the first attention_limit)"},
                         "attention_total": I("how many devices need attention (all of them)")},
                        ["devices", "lifecycle", "alarms_open", "config", "attention", "attention_total"]),
    "TimelineEntry": obj({"time_ns": NS, "kind": S(enum=["join", "reset", "config", "alarm", "lifecycle"]),
                          "action": S("join, reset; config: desired, removed, sent, retried, applied, refused, failed, lost; "
                                      "alarm: raised, cleared, acknowledged; lifecycle: the state entered"),
                          "detail": S(), "data": nullable(obj({}, desc="join and reset: the event's payload")),
                          "field": S("config: the field"), "value": {"description": "config: the value"},
                          "alarm_id": I("alarm: the alarm (POST /api/alarms/{id}/ack)"), "alarm_kind": S(),
                          "raises": I(), "open": B("alarm: open now"), "acknowledged": B("alarm: acknowledged now")},
                         ["time_ns", "kind", "action", "detail"]),
}
for item in ["Gateway", "Device", "Uplink", "Event", "Downlink", "AdrDecision", "Location", "QueueItem",
             "Application", "Profile", "ApiKey", "MulticastGroup", "Alarm", "ConfigChange", "FleetDevice", "TimelineEntry"]:
    schemas[item + "Page"] = page(item)

def resp(schema, desc="OK"):
    return {"description": desc, "content": {"application/json": {"schema": ref(schema)}}}
ERR = lambda d: resp("Error", d)
def op(summary, ok, status="200", errors=(), body=None, params=(), tag=None, auth=True):
    o = {"summary": summary, "responses": {status: resp(ok) if isinstance(ok, str) else ok}}
    for code, d in errors: o["responses"][code] = ERR(d)
    if auth:
        o["responses"].setdefault("401", ERR("no token, or an unknown or revoked one"))
    if body: o["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    if params: o["parameters"] = list(params)
    if tag: o["tags"] = [tag]
    if not auth: o["security"] = []
    return o
def q(name, schema, desc): return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}
def path_param(name, schema): return {"name": name, "in": "path", "required": True, "schema": schema}
PAGE = [q("limit", I(minimum=1, maximum=10000), "at most this many items (lists of a device: 100 by default; others 1000)"),
        q("after", S(), "the previous page's next")]
W403 = ("403", "the token may not do this (read-only, or another application's key, or not an admin)")
B400 = ("400", "a field is wrong (named), or an unknown field")
DEV = path_param("dev_eui", EUI)
GW = path_param("gateway_eui", EUI)
ID = path_param("id", I(minimum=1))

paths = {
    "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "tags": ["server"],
                         "responses": {"200": {"description": "text/plain; version=0.0.4",
                                               "content": {"text/plain": {"schema": S()}}}}}},
    "/api/health": {"get": op("health (503 while storage fails)", "Health", errors=[("503", "storage down")], tag="server", auth=False)},
    "/api/openapi.json": {"get": op("this description", {"description": "OpenAPI 3", "content": {"application/json": {"schema": obj({})}}},
                                    tag="server", auth=False)},
    "/api/geo/accuracy": {"get": op("live accuracy measured on reference devices", "Accuracy", tag="server", auth=False)},
    "/api/stream": {"get": {"summary": "server-sent events: \"update\" when something changed", "tags": ["server"],
                            "description": "event: update (uplinks, joins, locations or gateways changed: read what you show); "
                                           "event: error, an admin's stream only, data {\"kind\": \"uplink_dropped\" or "
                                           "\"downlink_failed\", \"reason\" (the metrics' label), \"count\", \"total\"} when "
                                           "frames are refused or a downlink fails; a \": idle\" comment every second",
                            "responses": {"200": {"description": "text/event-stream",
                                                  "content": {"text/event-stream": {"schema": S()}}},
                                          "401": ERR("no token"), "503": ERR("too many streams")}}},
    "/api/map": {"get": op("gateways and device tracks (the web map)", "Map", tag="server",
                           params=[q("since", I(minimum=0), "only devices located after this location id")])},
    "/api/whoami": {"get": op("the caller's scope (what its token may do)", "WhoAmI", tag="server")},
    "/api/events": {"get": op("every device's events the token sees: ?since=ID those after it, oldest first (a live feed); "
                              "else pages newest first", "EventFeed", errors=[("400", "bad argument"), W403], tag="devices",
                              params=PAGE + [q("since", I(minimum=0), "the events after this id, oldest first (not with after)"),
                                             q("application_id", I(minimum=1), "one application's devices'")])},
    "/api/gateways": {
        "get": op("gateways, by EUI", "GatewayPage", errors=[("400", "bad page arguments")], tag="gateways",
                  params=PAGE + [q("q", S(maxLength=64), "a part of the EUI or the name, any case")]),
        "post": op("add or replace a gateway (admin)", "Gateway", "201", [B400, W403], "GatewayIn", tag="gateways")},
    "/api/gateways/{gateway_eui}": {
        "parameters": [GW],
        "get": op("one gateway", "Gateway", errors=[("404", "no such gateway"), ("400", "bad EUI")], tag="gateways"),
        "patch": op("change a gateway (admin): the fields given", "Gateway", errors=[B400, W403, ("404", "no such gateway")],
                    body="GatewayIn", tag="gateways"),
        "delete": op("delete a gateway (admin)", "Empty", errors=[W403, ("404", "no such gateway")], tag="gateways")},
    "/api/gateways/{gateway_eui}/links": {
        "parameters": [GW],
        "get": op("what ADR learned of the gateway's links from static and reference devices, per cell (docs/adr.md, the link map)",
                  "GatewayLinks", errors=[("404", "no such gateway"), ("400", "bad EUI")], tag="gateways")},
    "/api/devices": {
        "get": op("devices the token sees, by DevEUI", "DevicePage", errors=[("400", "bad argument"), W403], tag="devices",
                  params=PAGE + [q("q", S(maxLength=64), "a part of the DevEUI or the name, any case"),
                                 q("application_id", I(minimum=1), "one application's"),
                                 q("profile_id", I(minimum=1), "one profile's"),
                                 q("seen_after_ns", I(), "last uplink at or after"),
                                 q("seen_before_ns", I(), "last uplink before"),
                                 q("lifecycle", S(enum=["provisioned", "active", "silent", "retired"]), "in this state"),
                                 q("tag", S(), "key=value: with this tag")]),
        "post": op("provision a device", "Device", "201", [B400, W403, ("409", "it exists (PATCH changes it)")], "DeviceIn", tag="devices")},
    "/api/devices/{dev_eui}": {
        "parameters": [DEV],
        "get": op("one device", "Device", errors=[("404", "no such device (or another application's)"), ("400", "bad EUI")], tag="devices"),
        "patch": op("change a device; keys and counters kept", "Device", errors=[B400, W403, ("404", "no such device")],
                    body="DeviceIn", tag="devices"),
        "delete": op("delete a device (its counters go with it)", "Empty", errors=[W403, ("404", "no such device")], tag="devices")},
}
for sub, item, s in [("uplinks", "UplinkPage", "uplinks, newest first, each gateway's reception"),
                     ("events", "EventPage", "events, newest first"),
                     ("downlinks", "DownlinkPage", "downlinks sent, newest first (confirmed: awaiting_ack, acknowledged, nacked)"),
                     ("adr", "AdrDecisionPage", "ADR decisions, newest first, with their reason"),
                     ("locations", "LocationPage", "positions, newest first")]:
    paths[f"/api/devices/{{dev_eui}}/{sub}"] = {"parameters": [DEV], "get": op(s, item, errors=[("404", "no such device"), ("400", "bad argument")],
                                                                              params=PAGE, tag="devices")}
paths["/api/devices/{dev_eui}/queue"] = {
    "parameters": [DEV],
    "get": op("downlinks waiting, oldest first", "QueueItemPage", errors=[("404", "no such device"), ("400", "bad argument")], params=PAGE, tag="devices"),
    "post": op("queue a downlink", "Queued", "202", [B400, W403, ("404", "no such device"),
                                                     ("429", "its profile's max_downlinks_per_day reached")], "DeviceQueueIn", tag="devices"),
    "delete": op("empty the queue", "Deleted", errors=[W403, ("404", "no such device")], tag="devices")}
paths["/api/devices/import"] = {
    "post": op("provision many devices at once, all or nothing (JSON or CSV; up to 100,000)", "Imported", "201",
               [("400", "rows refused (each with its reason): nothing imported"), W403, ("413", "body over 32 MiB")],
               "ImportIn", tag="fleet")}
paths["/api/devices/import"]["post"]["responses"]["400"] = resp("ImportRefused", "rows refused (each with its reason): nothing imported")
paths["/api/devices/export"] = {
    "get": op("the inventory: every device the token sees (keys never), JSON or CSV", "Export", errors=[("400", "bad argument")],
              params=[q("format", S(enum=["json", "csv"]), "csv: text/csv, one line per device"),
                      q("application_id", I(minimum=1), "one application's"), q("profile_id", I(minimum=1), "one profile's"),
                      q("lifecycle", S(enum=["provisioned", "active", "silent", "retired"]), "in this state")], tag="fleet")}
paths["/api/devices/{dev_eui}/config"] = {
    "parameters": [DEV],
    "get": op("its configuration shadow: desired, reported, in sync or pending since", "Config",
              errors=[("404", "no such device"), ("400", "bad EUI")], tag="fleet"),
    "patch": op("set desired fields (null removes one); sent as the device becomes reachable", "Config",
                errors=[B400, W403, ("404", "no such device")], body="ConfigIn", tag="fleet")}
paths["/api/devices/{dev_eui}/config/history"] = {
    "parameters": [DEV],
    "get": op("every change of its configuration with its time and outcome, newest first", "ConfigChangePage",
              errors=[("404", "no such device"), ("400", "bad argument")], params=PAGE, tag="fleet")}
paths["/api/alarms"] = {
    "get": op("alarms (admin), newest first", "AlarmPage", errors=[("400", "bad argument"), W403], tag="fleet",
              params=PAGE + [q("open", B(), "true: open ones only"), q("unacked", B(), "true: not acknowledged only"),
                             q("kind", S(), "one kind"), q("subject", S(), "one device, gateway (EUI) or DevAddr")])}
paths["/api/alarms/{id}"] = {
    "parameters": [ID],
    "get": op("one alarm", "Alarm", errors=[W403, ("404", "no such alarm"), ("400", "bad id")], tag="fleet")}
paths["/api/alarms/{id}/ack"] = {
    "parameters": [ID],
    "post": op("acknowledge an alarm (an operator)", "Alarm", errors=[B400, W403, ("404", "no such alarm"),
                                                                    ("409", "acknowledged already")], body="AckIn", tag="fleet")}
paths["/api/devices/{dev_eui}/timeline"] = {
    "parameters": [DEV],
    "get": op("its timeline, newest first: joins, frame-counter resets, configuration changes, alarms raised, cleared and "
              "acknowledged, the latest entry into each life-cycle state", "TimelineEntryPage",
              errors=[("404", "no such device"), ("400", "bad argument")], tag="fleet",
              params=[q("limit", I(minimum=1, maximum=1000), "at most this many entries (100 by default)"),
                      q("after", S(), "the previous page's next (time.source.id)")])}
paths["/api/fleet/summary"] = {
    "get": op("the fleet at a glance (admin): devices by state, open alarms by kind, configuration in sync, devices needing attention",
              "FleetSummary", errors=[W403, ("400", "bad argument")], tag="fleet",
              params=[q("attention_limit", I(minimum=1, maximum=10000), "at most this many devices needing attention (100 by default)")])}
paths["/api/fleet/devices"] = {
    "get": op("every device's health (admin), by DevEUI: the console's fleet map", "FleetDevicePage",
              errors=[W403, ("400", "bad argument")], params=PAGE, tag="fleet")}
paths["/api/applications"] = {
    "get": op("applications (an application's key: its own)", "ApplicationPage", errors=[("400", "bad page arguments")], params=PAGE, tag="applications"),
    "post": op("make an application (admin)", "Application", "201", [B400, W403], "ApplicationIn", tag="applications")}
paths["/api/applications/{id}"] = {
    "parameters": [ID],
    "get": op("one application", "Application", errors=[("404", "no such application"), ("400", "bad id")], tag="applications"),
    "patch": op("rename or describe it", "Application", errors=[B400, W403, ("404", "no such application")], body="ApplicationIn", tag="applications"),
    "delete": op("delete it (admin; empty, not the default one)", "Empty",
                 errors=[W403, ("404", "no such application"), ("409", "it has devices, or it is the default one")], tag="applications")}
paths["/api/applications/{id}/webhooks"] = {
    "parameters": [ID],
    "get": op("the application's webhooks", "WebhookList", errors=[("404", "no such application"), ("400", "bad id")], tag="applications"),
    "post": op("add a webhook: the application's devices' events POSTed to it", "Webhook", "201",
               [B400, W403, ("404", "no such application")], "WebhookIn", tag="applications")}
paths["/api/applications/{id}/webhooks/{webhook_id}"] = {
    "parameters": [ID, path_param("webhook_id", I(minimum=1))],
    "delete": op("remove a webhook", "Empty", errors=[W403, ("404", "no such application or webhook"), ("400", "bad id")], tag="applications")}
paths["/api/device-profiles"] = {
    "get": op("device profiles", "ProfilePage", errors=[("400", "bad page arguments")], params=PAGE, tag="device-profiles"),
    "post": op("make a device profile (admin)", "Profile", "201", [B400, W403], "ProfileIn", tag="device-profiles")}
paths["/api/device-profiles/{id}"] = {
    "parameters": [ID],
    "get": op("one device profile", "Profile", errors=[("404", "no such profile"), ("400", "bad id")], tag="device-profiles"),
    "patch": op("change it (admin): its devices follow at their next uplink", "Profile", errors=[B400, W403, ("404", "no such profile")],
                body="ProfileIn", tag="device-profiles"),
    "delete": op("delete it (admin; unused)", "Empty", errors=[W403, ("404", "no such profile"), ("409", "devices use it")], tag="device-profiles")}
paths["/api/api-keys"] = {
    "get": op("API keys (admin), never the keys themselves", "ApiKeyPage", errors=[W403, ("400", "bad page arguments")], params=PAGE, tag="api-keys"),
    "post": op("make a key (admin): the key is in this answer only", "ApiKeyCreated", "201", [B400, W403], "ApiKeyIn", tag="api-keys")}
paths["/api/api-keys/{id}"] = {
    "parameters": [ID],
    "get": op("one API key", "ApiKey", errors=[W403, ("404", "no such key")], tag="api-keys"),
    "delete": op("revoke it (the record stays)", "ApiKey", errors=[W403, ("404", "no such key"), ("409", "revoked already")], tag="api-keys")}
paths["/api/multicast-groups"] = {
    "get": op("multicast groups (admin)", "MulticastGroupPage", errors=[W403], params=PAGE, tag="multicast"),
    "post": op("make a multicast group (admin)", "MulticastGroup", "201", [B400, W403], "MulticastIn", tag="multicast")}
paths["/api/multicast-groups/{id}"] = {
    "parameters": [ID],
    "get": op("one group and its devices", "MulticastGroup", errors=[W403, ("404", "no such group")], tag="multicast"),
    "delete": op("delete a group", "Empty", errors=[W403, ("404", "no such group")], tag="multicast")}
paths["/api/multicast-groups/{id}/devices"] = {
    "parameters": [ID],
    "post": op("add a member", "MulticastGroup", errors=[B400, W403, ("404", "no such group or device")], body="MemberIn", tag="multicast")}
paths["/api/multicast-groups/{id}/devices/{dev_eui}"] = {
    "parameters": [ID, DEV],
    "delete": op("remove a member", "MulticastGroup", errors=[W403, ("404", "not a member")], tag="multicast")}
paths["/api/multicast-groups/{id}/queue"] = {
    "parameters": [ID],
    "post": op("queue a group downlink (unconfirmed)", "Queued", "202", [B400, W403, ("404", "no such group")], "QueueIn", tag="multicast")}

doc = {
    "openapi": "3.0.3",
    "info": {"title": "lorageo HTTP API", "version": "0.1.0",
             "description": "lorageo's network server API (docs/api.md explains the rules). Every error answers "
                            "{\"error\": \"...\"} naming the field; unknown body keys are refused; every list is a page "
                            "({\"items\", \"next\"}); 64-bit ns times come as numbers and, as *_str, strings."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                  "description": "[api] token (admin read-write), [api] read_token (admin read-only) or an API key"}},
                   "schemas": schemas},
    "paths": paths,
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "openapi.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=True)
    f.write("\n")
