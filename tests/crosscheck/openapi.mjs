// The OpenAPI description served at /api/openapi.json checked against the real server: every
// documented operation is called (a request below for each: the test fails when the
// description gains one without it), answers with a status the description lists for it,
// and its JSON carries the required fields of that status's schema (recursively: items of
// pages, $ref, allOf). An undocumented path answers 404.
// Usage: node openapi.mjs path/to/lorageo
import {
  ABP, armTimeout, base, check, dataUp, frameFromAll, gateways, server, sleep, start, stop, tally, waitHealthy,
} from "./harness.mjs";

armTimeout(90000);
const TOKEN = "openapi-admin-token";
const EUI = "0a0b0c0d0e0f0001";
let ids = {};
// [method, documented path, concrete path (a function: ids are known as the run goes), body]
const requests = () => [
  ["get", "/metrics", "/metrics"],
  ["get", "/api/health", "/api/health"],
  ["get", "/api/openapi.json", "/api/openapi.json"],
  ["get", "/api/geo/accuracy", "/api/geo/accuracy"],
  ["get", "/api/map", "/api/map"],
  ["post", "/api/gateways", "/api/gateways", { gateway_eui: "aa555a00000000e1", name: "gw", latitude: 1, longitude: 2 }],
  ["get", "/api/gateways", "/api/gateways?limit=2"],
  ["get", "/api/gateways/{gateway_eui}", "/api/gateways/aa555a00000000e1"],
  ["patch", "/api/gateways/{gateway_eui}", "/api/gateways/aa555a00000000e1", { name: "renamed" }],
  ["get", "/api/gateways/{gateway_eui}/links", "/api/gateways/aa555a00000000e1/links"],
  ["post", "/api/applications", "/api/applications", { name: "app" }],
  ["get", "/api/applications", "/api/applications"],
  ["get", "/api/applications/{id}", () => `/api/applications/${ids.app}`],
  ["patch", "/api/applications/{id}", () => `/api/applications/${ids.app}`, { description: "d" }],
  ["post", "/api/applications/{id}/webhooks", () => `/api/applications/${ids.app}/webhooks`,
   { url: "http://127.0.0.1:9/hook", headers: { "X-Token": "t" }, events: ["up"] }],
  ["get", "/api/applications/{id}/webhooks", () => `/api/applications/${ids.app}/webhooks`],
  ["delete", "/api/applications/{id}/webhooks/{webhook_id}", () => `/api/applications/${ids.app}/webhooks/${ids.webhook}`],
  ["post", "/api/device-profiles", "/api/device-profiles", { name: "prof" }],
  ["get", "/api/device-profiles", "/api/device-profiles"],
  ["get", "/api/device-profiles/{id}", () => `/api/device-profiles/${ids.profile}`],
  ["patch", "/api/device-profiles/{id}", () => `/api/device-profiles/${ids.profile}`, { class: "C" }],
  ["post", "/api/devices", "/api/devices", () => ({ ...ABP, application_id: ids.app, profile_id: ids.profile })],
  ["get", "/api/devices", "/api/devices?limit=1"],
  ["get", "/api/devices/{dev_eui}", `/api/devices/${ABP.dev_eui}`],
  ["patch", "/api/devices/{dev_eui}", `/api/devices/${ABP.dev_eui}`, { name: "d" }],
  ["get", "/api/devices/{dev_eui}/uplinks", `/api/devices/${ABP.dev_eui}/uplinks?limit=1`],
  ["get", "/api/devices/{dev_eui}/events", `/api/devices/${ABP.dev_eui}/events`],
  ["get", "/api/devices/{dev_eui}/downlinks", `/api/devices/${ABP.dev_eui}/downlinks`],
  ["get", "/api/devices/{dev_eui}/adr", `/api/devices/${ABP.dev_eui}/adr`],
  ["get", "/api/devices/{dev_eui}/locations", `/api/devices/${ABP.dev_eui}/locations`],
  ["get", "/api/events", "/api/events?since=0&limit=5"],
  ["get", "/api/whoami", "/api/whoami"],
  ["post", "/api/devices/{dev_eui}/queue", `/api/devices/${ABP.dev_eui}/queue`, { f_port: 2, data: "AQ==" }],
  ["get", "/api/devices/{dev_eui}/queue", `/api/devices/${ABP.dev_eui}/queue`],
  ["delete", "/api/devices/{dev_eui}/queue", `/api/devices/${ABP.dev_eui}/queue`],
  ["post", "/api/api-keys", "/api/api-keys", { name: "k" }],
  ["get", "/api/api-keys", "/api/api-keys"],
  ["get", "/api/api-keys/{id}", () => `/api/api-keys/${ids.key}`],
  ["delete", "/api/api-keys/{id}", () => `/api/api-keys/${ids.key}`],
  ["post", "/api/multicast-groups", "/api/multicast-groups",
   { name: "g", mc_addr: "01020304", mc_nwk_s_key: "00112233445566778899aabbccddeeff", mc_app_s_key: "00112233445566778899aabbccddeeff" }],
  ["get", "/api/multicast-groups", "/api/multicast-groups"],
  ["get", "/api/multicast-groups/{id}", () => `/api/multicast-groups/${ids.group}`],
  ["post", "/api/multicast-groups/{id}/devices", () => `/api/multicast-groups/${ids.group}/devices`, { dev_eui: ABP.dev_eui }],
  ["delete", "/api/multicast-groups/{id}/devices/{dev_eui}", () => `/api/multicast-groups/${ids.group}/devices/${ABP.dev_eui}`],
  ["post", "/api/multicast-groups/{id}/queue", () => `/api/multicast-groups/${ids.group}/queue`, { f_port: 3, data: "AQ==" }],
  ["delete", "/api/multicast-groups/{id}", () => `/api/multicast-groups/${ids.group}`],
  // the fleet (issue 19)
  ["get", "/api/devices/{dev_eui}/config", `/api/devices/${ABP.dev_eui}/config`],
  ["patch", "/api/devices/{dev_eui}/config", `/api/devices/${ABP.dev_eui}/config`, { uplink_interval_s: 600, max_dr: 5 }],
  ["get", "/api/devices/{dev_eui}/config/history", `/api/devices/${ABP.dev_eui}/config/history`],
  ["post", "/api/devices/import", "/api/devices/import",
   { devices: [{ dev_eui: "0a0b0c0d0e0f0002", dev_addr: "01abcdef", nwk_s_key: "00112233445566778899aabbccddeeff",
                 app_s_key: "00112233445566778899aabbccddeeff", tags: { site: "north" }, hardware: "v2" }] }],
  ["post", "/api/devices/import", "/api/devices/import", { devices: [{ dev_eui: "0a0b0c0d0e0f0002" }] }],
  ["get", "/api/devices/export", "/api/devices/export?format=json&lifecycle=provisioned"],
  ["get", "/api/alarms", "/api/alarms?open=true"],
  ["get", "/api/alarms/{id}", "/api/alarms/999"],
  ["post", "/api/alarms/{id}/ack", "/api/alarms/999/ack", { by: "operator" }],
  ["get", "/api/fleet/summary", "/api/fleet/summary?attention_limit=5"],
  ["get", "/api/fleet/devices", "/api/fleet/devices?limit=2"],
  ["get", "/api/devices/{dev_eui}/timeline", `/api/devices/${ABP.dev_eui}/timeline?limit=5`],
  ["get", "/api/stream", "/api/stream"],
  ["delete", "/api/devices/{dev_eui}", `/api/devices/${ABP.dev_eui}`],
  ["delete", "/api/device-profiles/{id}", () => `/api/device-profiles/${ids.profile}`],
  ["delete", "/api/applications/{id}", () => `/api/applications/${ids.app}`],
  ["delete", "/api/gateways/{gateway_eui}", "/api/gateways/aa555a00000000e1"],
  // and answers that are errors, checked against the documented error statuses too
  ["get", "/api/devices/{dev_eui}", `/api/devices/${EUI}`],
  ["get", "/api/devices/{dev_eui}/uplinks", `/api/devices/${EUI}/uplinks`],
  ["post", "/api/devices", "/api/devices", { dev_eui: EUI, colour: "red" }],
  ["get", "/api/applications/{id}", "/api/applications/999"],
];

let spec = null;
const resolve = (s) => (s && s.$ref ? resolve(spec.components.schemas[s.$ref.split("/").pop()]) : s);
// the required fields of `schema` missing from `v`, as paths
function missing(schema, v, at = "$") {
  const s = resolve(schema);
  if (!s || v === null || v === undefined) return [];
  if (s.allOf) return s.allOf.flatMap((x) => missing(x, v, at));
  if (s.type === "array" && Array.isArray(v)) return v.flatMap((x, i) => missing(s.items, x, `${at}[${i}]`));
  if (s.type === "object" && typeof v === "object") {
    const out = (s.required ?? []).filter((k) => !(k in v)).map((k) => `${at}.${k}`);
    for (const [k, sub] of Object.entries(s.properties ?? {})) if (k in v) out.push(...missing(sub, v[k], `${at}.${k}`));
    return out;
  }
  return [];
}

try {
  start({ LORAGEO_API_TOKEN: TOKEN });
  await waitHealthy();
  const r0 = await fetch(`${base}/api/openapi.json`);
  spec = await r0.json();
  check(r0.status === 200 && spec.openapi === "3.0.3" && Object.keys(spec.paths).length > 20, "the description is served without a token");
  // every documented operation has a request here
  const ops = Object.entries(spec.paths).flatMap(([p, item]) => Object.keys(item).filter((m) => m !== "parameters").map((m) => `${m} ${p}`));
  const covered = new Set(requests().map(([m, p]) => `${m} ${p}`));
  for (const o of ops) check(covered.has(o), `a request checks ${o}`);
  for (const c of covered) check(ops.includes(c), `${c} is documented`);

  for (const g of gateways)
    await fetch(`${base}/api/gateways`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt }) });
  let uplinked = false;
  for (const [method, doc, concrete, bodyOf] of requests()) {
    if (!uplinked && doc === "/api/devices/{dev_eui}/uplinks") { // a stored uplink to describe
      await frameFromAll(dataUp(1, "hello"));
      await sleep(500);
      uplinked = true;
    }
    const url = typeof concrete === "function" ? concrete() : concrete;
    const body = typeof bodyOf === "function" ? bodyOf() : bodyOf;
    const ctl = new AbortController();
    const r = await fetch(base + url, { method: method.toUpperCase(), signal: ctl.signal,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` }, body: body && JSON.stringify(body) });
    const op = spec.paths[doc]?.[method];
    const documented = op?.responses?.[String(r.status)];
    check(documented, `${method.toUpperCase()} ${url}: status ${r.status} documented (${Object.keys(op?.responses ?? {})})`);
    const type = r.headers.get("content-type") ?? "";
    if (type.startsWith("text/event-stream")) { ctl.abort(); continue; }
    const text = await r.text();
    if (!type.startsWith("application/json")) continue;
    const json = JSON.parse(text);
    const schema = documented?.content?.["application/json"]?.schema;
    const gaps = missing(schema, json);
    check(schema && gaps.length === 0, `${method.toUpperCase()} ${url} (${r.status}): required fields present ${gaps.slice(0, 5)} ${text.slice(0, 200)}`);
    if (method === "post" && r.status === 201) {
      if (doc === "/api/applications/{id}/webhooks") ids.webhook = json.id;
      if (doc === "/api/applications") ids.app = json.id;
      if (doc === "/api/device-profiles") ids.profile = json.id;
      if (doc === "/api/api-keys") ids.key = json.id;
      if (doc === "/api/multicast-groups") ids.group = json.id;
    }
  }
  const r = await fetch(`${base}/api/nothing/here`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  check(r.status === 404, `an undocumented path: 404 (${r.status})`);
  await stop();
} catch (e) {
  check(false, `exception: ${e.stack}\n${server?.log}`);
}
console.log(`${tally.checks - tally.failures}/${tally.checks} checks passed`);
process.exit(tally.failures ? 1 : 0);
