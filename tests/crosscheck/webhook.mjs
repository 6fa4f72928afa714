// End-to-end test of the HTTP webhook against a real HTTP receiver started here:
//   - the receiver refuses the first 3 requests (503): the event still arrives, after
//     exactly 3 failed tries counted in /metrics, with its body (the uplink as the API
//     shows it), the configured headers, Content-Type and ?event=up;
//   - [webhook] events = up,join: location events are not sent;
//   - events go out in order (f_cnt 1, 2, 3);
//   - a receiver that always fails: each event is tried max_attempts times, then dropped
//     and counted; the server serves on;
//   - a receiver that never answers: the request times out (timeout_ms) and is retried;
//   - with [mqtt] format = chirpstack the body is ChirpStack's UplinkEvent JSON;
//   - a bad [webhook] url or headers value is refused at start with the key named.
// Usage: node webhook.mjs path/to/lorageo
import { spawnSync } from "node:child_process";
import http from "node:http";
import {
  ABP, api, armTimeout, BIN, check, dataUp, frameFromAll, gateways, metric, pull, runServerTest, server, sleep, start, stop, tally, udpPort, waitFor, waitHealthy,
} from "./harness.mjs";

armTimeout(120000);
const hookPort = udpPort + 3;
const got = []; // every request: {url, headers, body, answered}
let mode = { failFirst: 3, always: false, hang: false };
let seen = 0;
const receiver = http.createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    seen++;
    const fail = mode.always || seen <= mode.failFirst;
    got.push({ url: req.url, method: req.method, headers: req.headers, body, answered: fail ? 503 : 200 });
    if (mode.hang) return; /* never answers: the sender's timeout must fire */
    res.writeHead(fail ? 503 : 200, { "Content-Type": "text/plain" });
    res.end(fail ? "busy" : "ok");
  });
});
await new Promise((r) => receiver.listen(hookPort, "127.0.0.1", r));
const delivered = (type) => got.filter((g) => g.answered === 200 && g.url.endsWith(`event=${type}`));
const base = {
  LORAGEO_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/lorawan`,
  LORAGEO_WEBHOOK_HEADERS: "Authorization: Bearer s3cret|X-Tenant: acme",
  LORAGEO_WEBHOOK_EVENTS: "up,join",
  LORAGEO_WEBHOOK_RETRY_MS: "100",
  LORAGEO_WEBHOOK_RETRY_MAX_MS: "400",
};

await runServerTest("webhook", async () => {
  // ---- configuration refused with the key named
  for (const [k, v, want] of [["LORAGEO_WEBHOOK_URL", "ftp://x", /\[webhook\] url/],
                              ["LORAGEO_WEBHOOK_HEADERS", "no colon here", /\[webhook\] headers/]]) {
    const r = spawnSync(BIN, ["serve"], { env: { ...process.env, [k]: v }, encoding: "utf8", timeout: 10000 });
    check(r.status !== 0 && want.test(r.stderr), `${k}=${v} refused: ${r.stderr.trim()}`);
  }

  start(base);
  await waitHealthy();
  for (const g of gateways)
    await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check((await api("POST", "/api/devices", ABP)).status === 201, "device provisioned");
  for (const g of gateways) await pull(g);
  await sleep(200);

  // ---- retried through three refusals
  await frameFromAll(dataUp(1, "hello"));
  check(await waitFor(() => delivered("up").length === 1), `the up event arrives after the refusals (${got.length} requests)`);
  const first = got.filter((g) => g.url.endsWith("event=up"));
  check(first.length === 4 && first.slice(0, 3).every((g) => g.answered === 503),
        `exactly 3 refused tries, then the 4th delivered (${first.map((g) => g.answered)})`);
  check(first.every((g) => g.body === first[0].body), "every retry carries the same body");
  const r = delivered("up")[0] ?? { headers: {}, body: "{}" };
  check(r.method === "POST" && r.url === "/lorawan?event=up", `POST to the URL with ?event=up (${r.method} ${r.url})`);
  check(r.headers.authorization === "Bearer s3cret" && r.headers["x-tenant"] === "acme",
        `the configured headers are sent: ${JSON.stringify(r.headers)}`);
  check(/^application\/json/.test(r.headers["content-type"] ?? ""), "Content-Type: application/json");
  const up = JSON.parse(r.body);
  check(up.dev_eui === ABP.dev_eui && up.f_cnt === 1 && Buffer.from(up.data, "base64").toString() === "hello" &&
        up.rx_info?.length === 4, `the body is the uplink with its receptions: ${r.body.slice(0, 200)}`);
  check(await metric('lorageo_webhook_requests_total{result="failed"}') === 3 &&
        await metric('lorageo_webhook_requests_total{result="ok"}') === 1 &&
        await metric("lorageo_webhook_sent_total") === 1, "requests and deliveries counted in /metrics");

  // ---- in order; location events filtered out
  await frameFromAll(dataUp(2, "two"));
  await frameFromAll(dataUp(3, "three"));
  check(await waitFor(() => delivered("up").length === 3), "two more up events arrive");
  check(delivered("up").map((g) => JSON.parse(g.body).f_cnt).join() === "1,2,3", "in order");
  await sleep(300);
  check(!got.some((g) => g.url.includes("event=location")),
        "no location event: [webhook] events = up,join");

  // ---- a receiver that always fails: max_attempts tries, then dropped
  await stop();
  mode = { failFirst: 0, always: true, hang: false };
  got.length = 0;
  start({ ...base, LORAGEO_WEBHOOK_MAX_ATTEMPTS: "3" });
  await waitHealthy();
  for (const g of gateways) await pull(g);
  await frameFromAll(dataUp(4, "doomed"));
  await waitFor(() => got.length >= 3, 5000);
  await sleep(800);
  check(got.length === 3, `tried exactly max_attempts = 3 times (${got.length})`);
  check(await metric('lorageo_webhook_dropped_total{reason="attempts"}') === 1 &&
        await metric("lorageo_webhook_waiting") === 0, "then dropped and counted");
  check((await api("GET", "/api/health")).status === 200, "the server serves on");

  // ---- a receiver that never answers: the timeout fires and the event is retried
  await stop();
  mode = { failFirst: 0, always: false, hang: true };
  got.length = 0;
  start({ ...base, LORAGEO_WEBHOOK_TIMEOUT_MS: "300", LORAGEO_WEBHOOK_MAX_ATTEMPTS: "2" });
  await waitHealthy();
  for (const g of gateways) await pull(g);
  await frameFromAll(dataUp(5, "slow"));
  check(await waitFor(() => got.length === 2, 5000), `timed out and retried (${got.length} requests)`);
  await sleep(500);
  check(await metric('lorageo_webhook_dropped_total{reason="attempts"}') === 1, "then dropped");

  // ---- ChirpStack's JSON
  await stop();
  mode = { failFirst: 0, always: false, hang: false };
  got.length = 0;
  start({ ...base, LORAGEO_MQTT_FORMAT: "chirpstack", LORAGEO_MQTT_APPLICATION_ID: "app-1" });
  await waitHealthy();
  for (const g of gateways) await pull(g);
  await frameFromAll(dataUp(6, "six"));
  check(await waitFor(() => delivered("up").length === 1), "the up event arrives in ChirpStack's form");
  const cs = JSON.parse(delivered("up")[0]?.body ?? "{}");
  check(cs.deviceInfo?.devEui === ABP.dev_eui && cs.deviceInfo?.applicationId === "app-1" && cs.fCnt === 6 &&
        cs.devAddr === ABP.dev_addr && Buffer.from(cs.data ?? "", "base64").toString() === "six" &&
        cs.rxInfo?.length === 4 && cs.txInfo?.modulation?.lora?.spreadingFactor === 7,
        `ChirpStack UplinkEvent: ${JSON.stringify(cs).slice(0, 300)}`);
}, async () => {
  receiver.closeAllConnections?.();
  receiver.close();
  for (const g of gateways) g.sock.close();
});
