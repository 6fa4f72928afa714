// Per-application webhooks end to end (issue 18 item 4): an application's webhook
// (POST /api/applications/{id}/webhooks) receives the events of that application's devices
// only — with its own headers, its event filter and its format — added and removed while
// the server runs; another application's key cannot see or add one; bad bodies are refused
// with the field named.
// Usage: node webhook_app.mjs path/to/lorageo
import http from "node:http";
import lora from "lora-packet";
import {
  ABP, api, armTimeout, check, dataUp, frameFromAll, gateways, sleep, start, stop, tally, udpPort, waitFor, waitHealthy,
} from "./harness.mjs";

armTimeout(60000);
const hookPort = udpPort + 3;
const got = [];
const receiver = http.createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    got.push({ url: req.url, headers: req.headers, body: JSON.parse(body || "null") });
    res.writeHead(200).end("ok");
  });
});
await new Promise((r) => receiver.listen(hookPort, "127.0.0.1", r));
const call = async (method, url, body, key) => {
  const r = await fetch(`http://127.0.0.1:${udpPort + 1}${url}`, { method, body: body && JSON.stringify(body),
    headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) } });
  const t = await r.text();
  return { status: r.status, json: t ? JSON.parse(t) : null };
};
const OTHER = { ...ABP, dev_eui: "0102030405060709", dev_addr: "49be7df2" };
const upOther = (fcnt, text) => lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from(OTHER.dev_addr, "hex"),
  FCnt: fcnt, FPort: 2, payload: Buffer.from(text) }, Buffer.from(OTHER.app_s_key, "hex"), Buffer.from(OTHER.nwk_s_key, "hex")).getPHYPayload();
try {
  start();
  await waitHealthy();
  for (const g of gateways) await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  const a = (await api("POST", "/api/applications", { name: "water" })).json;
  const b = (await api("POST", "/api/applications", { name: "street lights" })).json;
  check((await api("POST", "/api/devices", { ...ABP, application_id: a.id })).status === 201, "device of A");
  check((await api("POST", "/api/devices", { ...OTHER, application_id: b.id })).status === 201, "device of B");
  const keyB = (await api("POST", "/api/api-keys", { name: "b", application_id: b.id })).json?.key;

  // refused bodies, and another application's key
  for (const [body, why] of [[{ url: "ftp://x" }, /url/], [{ url: "http://x/", events: "up" }, /events/],
                              [{ url: "http://x/", headers: { "X|Y": "1" } }, /headers/],
                              [{ url: "http://x/", format: "xml" }, /format/], [{ url: "http://x/", colour: 1 }, /colour/]]) {
    const r = await api("POST", `/api/applications/${a.id}/webhooks`, body);
    check(r.status === 400 && why.test(r.json?.error), `POST ${JSON.stringify(body)} -> 400 ${r.json?.error}`);
  }
  check((await call("POST", `/api/applications/${a.id}/webhooks`, { url: "http://x/" }, keyB)).status === 404,
    "application B's key cannot add a webhook to A");
  check((await call("GET", `/api/applications/${a.id}/webhooks`, undefined, keyB)).status === 404,
    "nor see A's webhooks");

  const hook = await api("POST", `/api/applications/${a.id}/webhooks`,
    { url: `http://127.0.0.1:${hookPort}/water`, headers: { Authorization: "Bearer w4ter" }, events: ["up"] });
  check(hook.status === 201 && hook.json.headers.Authorization === "Bearer w4ter" && hook.json.events[0] === "up",
    `webhook added (${JSON.stringify(hook.json)})`);
  check((await api("GET", `/api/applications/${a.id}/webhooks`)).json.items.length === 1, "listed");

  // A's uplink reaches A's webhook; B's does not
  await frameFromAll(dataUp(1, "a1"));
  await frameFromAll(upOther(1, "b1"));
  check(await waitFor(() => got.some((g) => g.url === "/water?event=up")), `A's uplink POSTed (${JSON.stringify(got.map((g) => g.url))})`);
  await sleep(500);
  const ups = got.filter((g) => g.url === "/water?event=up");
  check(ups.length === 1 && ups[0].body.dev_eui === ABP.dev_eui && ups[0].headers.authorization === "Bearer w4ter",
    `only A's device, with A's header (${JSON.stringify(ups.map((u) => [u.body.dev_eui, u.headers.authorization]))})`);
  check(!got.some((g) => g.url === "/water?event=location"), "event filter: no location events");

  // removed: nothing more
  check((await api("DELETE", `/api/applications/${a.id}/webhooks/${hook.json.id}`)).status === 200, "webhook removed");
  check((await api("DELETE", `/api/applications/${a.id}/webhooks/${hook.json.id}`)).status === 404, "and gone");
  const before = got.length;
  await frameFromAll(dataUp(2, "a2"));
  await sleep(800);
  check(got.length === before, `no POST after the webhook was removed (${got.length - before})`);

  // a profile's daily uplink limit: the first uplink past it raises one log event; all are kept
  const logs = await api("POST", `/api/applications/${a.id}/webhooks`, { url: `http://127.0.0.1:${hookPort}/log`, events: ["log"] });
  const limited = (await api("POST", "/api/device-profiles", { name: "limited", max_uplinks_per_day: 2 })).json;
  check(logs.status === 201 && (await api("PATCH", `/api/devices/${ABP.dev_eui}`, { profile_id: limited.id })).status === 200,
    "a log webhook, and the device on a profile allowing 2 uplinks a day");
  for (const f of [3, 4, 5, 6]) await frameFromAll(dataUp(f, `a${f}`));
  await waitFor(() => got.some((g) => g.url === "/log?event=log"));
  await sleep(500);
  const limitLogs = got.filter((g) => g.url === "/log?event=log" && g.body?.code === "UPLINK_LIMIT");
  const over = Number((await (await fetch(`http://127.0.0.1:${udpPort + 1}/metrics`)).text()).match(/^lorageo_uplinks_over_limit_total (\d+)/m)?.[1]);
  check(limitLogs.length === 1 && over === 2, `one UPLINK_LIMIT log event, 2 uplinks counted over (${limitLogs.length}, ${over})`);
  check((await api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=10`)).json.items.length === 6, "every uplink kept");
} catch (e) {
  check(false, `exception: ${e.stack}`);
} finally {
  await stop();
  receiver.close();
}
console.log(`webhook_app: ${tally.checks} checks, ${tally.failures} failures`);
process.exit(tally.failures ? 1 : 0);
