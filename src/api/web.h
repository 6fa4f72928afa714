/* The web UI's HTTP side (private to api/): static files and the live update stream. */
#ifndef LG_API_WEB_H
#define LG_API_WEB_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "ns/ns.h"

/* GET of a file of the UI under web_root: `/` is index.html, `/vendor/leaflet/...` is
 * Leaflet's dist/ from web_root's node_modules (vendored from npm, no CDN). 404 for
 * anything else, including any path with "..". */
enum MHD_Result lg_web_file(struct MHD_Connection *c, const char *web_root, const char *url);

/* GET /api/stream: server-sent events, an `update` event whenever uplinks, positions or
 * gateways changed (checked every 200 ms), with `errors` (an admin's stream) an `error`
 * event {"kind": "uplink_dropped" | "downlink_failed", "reason", "count", "total"} when a
 * frame is refused or a downlink fails, a comment every second otherwise so a dead client
 * is noticed. Ends when *stopping. */
enum MHD_Result lg_web_stream(struct MHD_Connection *c, const struct lg_ns_metrics *m,
                              const atomic_uint *gateways_changed, const atomic_bool *stopping,
                              bool errors);

#endif
