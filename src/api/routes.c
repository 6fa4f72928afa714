/*
 * Every route the HTTP server answers, in one table: api.c dispatches by it (405 for a
 * known path with another method, 404 for an unknown path), and tests/unit/test_openapi.c
 * compares it with docs/openapi.json both ways, so the description cannot forget a route
 * nor describe one that is not there.
 */
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "lora/lora.h"

static int openapi(struct lg_api_req *r, json_t **out) {
  (void)r;
  json_error_t e;
  *out = json_loadb((const char *)lg_api_openapi_json, lg_api_openapi_json_len, 0, &e);
  return *out ? 200 : lg_api_fail(out, 500, "docs/openapi.json: %s", e.text);
}

#define DEV "/api/devices/{dev_eui}"
#define MC "/api/multicast-groups"
const struct lg_api_route lg_api_routes[] = {
    {"GET", "/metrics", NULL, LG_ROUTE_OPEN | LG_ROUTE_RAW},
    {"GET", "/api/health", NULL, LG_ROUTE_OPEN | LG_ROUTE_RAW},
    {"GET", "/api/geo/accuracy", NULL, LG_ROUTE_OPEN | LG_ROUTE_RAW},
    {"GET", "/api/stream", NULL, LG_ROUTE_RAW},
    {"GET", "/api/openapi.json", openapi, LG_ROUTE_OPEN},
    {"GET", "/api/map", lg_api_map, 0},
    {"GET", "/api/whoami", lg_api_whoami, 0},
    {"GET", "/api/events", lg_api_events, 0},
    {"GET", "/api/gateways", lg_api_gateways, LG_ROUTE_ADMIN_WRITE},
    {"POST", "/api/gateways", lg_api_gateways, LG_ROUTE_ADMIN_WRITE},
    {"GET", "/api/gateways/{gateway_eui}", lg_api_gateway, LG_ROUTE_ADMIN_WRITE},
    {"PATCH", "/api/gateways/{gateway_eui}", lg_api_gateway, LG_ROUTE_ADMIN_WRITE},
    {"DELETE", "/api/gateways/{gateway_eui}", lg_api_gateway, LG_ROUTE_ADMIN_WRITE},
    {"GET", "/api/gateways/{gateway_eui}/links", lg_api_gateway_links, LG_ROUTE_ADMIN_WRITE},
    {"GET", "/api/devices", lg_api_devices, 0},
    {"POST", "/api/devices", lg_api_devices, 0},
    {"POST", "/api/devices/import", lg_api_devices_import, 0},
    {"GET", "/api/devices/export", lg_api_devices_export, 0},
    {"GET", DEV, lg_api_device, 0},
    {"PATCH", DEV, lg_api_device, 0},
    {"DELETE", DEV, lg_api_device, 0},
    {"GET", DEV "/uplinks", lg_api_device_list, 0},
    {"GET", DEV "/events", lg_api_device_list, 0},
    {"GET", DEV "/downlinks", lg_api_device_list, 0},
    {"GET", DEV "/adr", lg_api_device_list, 0},
    {"GET", DEV "/locations", lg_api_device_list, 0},
    {"GET", DEV "/queue", lg_api_device_queue, 0},
    {"POST", DEV "/queue", lg_api_device_queue, 0},
    {"DELETE", DEV "/queue", lg_api_device_queue, 0},
    {"GET", DEV "/config", lg_api_device_config, 0},
    {"PATCH", DEV "/config", lg_api_device_config, 0},
    {"GET", DEV "/config/history", lg_api_device_config, 0},
    {"GET", DEV "/timeline", lg_api_device_timeline, 0},
    {"GET", "/api/alarms", lg_api_alarms, LG_ROUTE_ADMIN},
    {"GET", "/api/alarms/{id}", lg_api_alarm, LG_ROUTE_ADMIN},
    {"POST", "/api/alarms/{id}/ack", lg_api_alarm, LG_ROUTE_ADMIN},
    {"GET", "/api/fleet/summary", lg_api_fleet_summary, LG_ROUTE_ADMIN},
    {"GET", "/api/fleet/devices", lg_api_fleet_devices, LG_ROUTE_ADMIN},
    {"GET", "/api/applications", lg_api_apps, 0},
    {"POST", "/api/applications", lg_api_apps, 0},
    {"GET", "/api/applications/{id}", lg_api_app, 0},
    {"PATCH", "/api/applications/{id}", lg_api_app, 0},
    {"DELETE", "/api/applications/{id}", lg_api_app, 0},
    {"GET", "/api/applications/{id}/webhooks", lg_api_app_webhooks, 0},
    {"POST", "/api/applications/{id}/webhooks", lg_api_app_webhooks, 0},
    {"DELETE", "/api/applications/{id}/webhooks/{webhook_id}", lg_api_app_webhook, 0},
    {"GET", "/api/device-profiles", lg_api_profiles, LG_ROUTE_ADMIN_WRITE},
    {"POST", "/api/device-profiles", lg_api_profiles, LG_ROUTE_ADMIN_WRITE},
    {"GET", "/api/device-profiles/{id}", lg_api_profile, LG_ROUTE_ADMIN_WRITE},
    {"PATCH", "/api/device-profiles/{id}", lg_api_profile, LG_ROUTE_ADMIN_WRITE},
    {"DELETE", "/api/device-profiles/{id}", lg_api_profile, LG_ROUTE_ADMIN_WRITE},
    {"GET", "/api/api-keys", lg_api_keys, LG_ROUTE_ADMIN},
    {"POST", "/api/api-keys", lg_api_keys, LG_ROUTE_ADMIN},
    {"GET", "/api/api-keys/{id}", lg_api_key, LG_ROUTE_ADMIN},
    {"DELETE", "/api/api-keys/{id}", lg_api_key, LG_ROUTE_ADMIN},
    {"GET", MC, lg_api_mcasts, LG_ROUTE_ADMIN},
    {"POST", MC, lg_api_mcasts, LG_ROUTE_ADMIN},
    {"GET", MC "/{id}", lg_api_mcast, LG_ROUTE_ADMIN},
    {"DELETE", MC "/{id}", lg_api_mcast, LG_ROUTE_ADMIN},
    {"POST", MC "/{id}/devices", lg_api_mcast_member, LG_ROUTE_ADMIN},
    {"DELETE", MC "/{id}/devices/{dev_eui}", lg_api_mcast_member, LG_ROUTE_ADMIN},
    {"POST", MC "/{id}/queue", lg_api_mcast_queue, LG_ROUTE_ADMIN},
};
const size_t lg_api_n_routes = sizeof(lg_api_routes) / sizeof(lg_api_routes[0]);

bool lg_api_match(const char *pattern, const char *path, const char **var, size_t *n, char *buf,
                  size_t len) {
  size_t used = 0;
  *n = 0;
  while (*pattern && *path) {
    if (*pattern == '{') { /* one segment, not empty, into buf */
      const char *pe = strchr(pattern, '}');
      size_t seg = strcspn(path, "/");
      if (pe == NULL || seg == 0 || *n == LG_API_MAX_VARS || used + seg + 1 > len) return false;
      memcpy(buf + used, path, seg);
      buf[used + seg] = '\0';
      var[(*n)++] = buf + used;
      used += seg + 1;
      pattern = pe + 1;
      path += seg;
    } else if (*pattern++ != *path++) {
      return false;
    }
  }
  return *pattern == '\0' && *path == '\0';
}
