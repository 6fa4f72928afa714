// Issue 16 end to end: what an attacker on the network (or a broken device) can make the
// real server do.
//   - a captured confirmed uplink replayed 1,500 times on distinct frequencies gets at most
//     NbTrans ACKs and does not move the downlink counter;
//   - 1,500 fresh confirmed uplinks get ACKs only while the gateway's sub-band budgets over
//     the hour allow (airtime computed here from the PULL_RESPs: at most 36 s in the 1 %
//     band, 360 s in RX2's 10 % band); the refusals are counted;
//   - an uplink at 100 MHz, or at a bandwidth EU868 has not, is dropped with its reason;
//   - an ABP device allowed to reset its counter reboots at FCnt 100: accepted, reported as a
//     "reset" event; one not allowed: refused as a replay;
//   - the API: a foreign Host, a foreign Origin, a body not sent as application/json, the
//     token in the URL are refused; 1,000 idle connections leave /api/health under 100 ms.
// Usage: node security.mjs path/to/lorageo
import lora from "lora-packet";
import {
  ABP, api, app, armTimeout, check, clock, dir, gateways, header, metric, nwk, pullResps, runServerTest, rxpkFor, send, server, sleep, start, stop, tally, waitHealthy,
} from "./harness.mjs";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { database, httpPort } from "./harness.mjs";

// A raw request (fetch may not set Host): { status, json }.
function raw(method, path, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: httpPort, method, path, headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, text, json: text.startsWith("{") ? JSON.parse(text) : null }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

armTimeout(120000);

// Time on air of a LoRaWAN downlink (Semtech AN1200.13; no payload CRC, CR 4/5, explicit
// header, 8-symbol preamble, low data rate optimisation at SF11/12 on 125 kHz), in s.
function airtimeS(datr, size) {
  const [, sf, bw] = /SF(\d+)BW(\d+)/.exec(datr).map(Number);
  const tsym = 2 ** sf / (bw * 1000), de = sf >= 11 && bw === 125 ? 1 : 0;
  const n = 8 + Math.max(Math.ceil((8 * size - 4 * sf + 28) / (4 * (sf - 2 * de))) * 5, 0);
  return (8 + 4.25 + n) * tsym;
}
const band = (f) => (f >= 868.0 && f <= 868.6 ? "M" : f >= 869.4 && f <= 869.65 ? "P" : "other");

const g = gateways[0];
const rxpkAt = (phy, freqHz, tmst) =>
  rxpkFor(g, phy, clock.emit, 0, tmst, (freqHz / 1e6).toFixed(6));
async function burst(frames) { // [phy, freqHz] each in its own PUSH_DATA, paced
  for (let i = 0; i < frames.length; i++) {
    const [phy, f] = frames[i];
    await send(g, Buffer.concat([header(0, g.eui), Buffer.from(`{"rxpk":[${rxpkAt(phy, f, 1000000 + i * 1000)}]}`)]));
    if (i % 50 === 49) await sleep(20);
  }
}

await runServerTest("security", async () => {
  start();
  await waitHealthy();
  let r = await api("POST", "/api/gateways", { gateway_eui: g.eui, name: "g", latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check(r.status === 201, `gateway: ${r.text}`);
  r = await api("POST", "/api/devices", ABP);
  check(r.status === 201, `device: ${r.text}`);
  await send(g, header(2, g.eui)); // PULL_DATA: the downlink path

  // ---- one captured confirmed uplink, replayed 1,500 times on distinct frequencies
  const captured = lora.fromFields({ MType: "Confirmed Data Up", DevAddr: Buffer.from(ABP.dev_addr, "hex"),
    FCnt: 1, FPort: 2, payload: Buffer.from("captured") }, app, nwk).getPHYPayload();
  await send(g, Buffer.concat([header(0, g.eui), Buffer.from(`{"rxpk":[${rxpkAt(captured, 868100000, 1000)}]}`)]));
  await sleep(400);
  const down0 = (await api("GET", `/api/devices/${ABP.dev_eui}`)).json.f_cnt_down_next;
  g.inbox.length = 0;
  await burst(Array.from({ length: 1500 }, (_, i) => [captured, 868000200 + 400 * i]));
  for (let t = 0; t < 100 && (await metric("lorageo_retransmissions_total")) < 1500; t++) await sleep(100);
  await sleep(300);
  const replayAcks = pullResps(g);
  const replayAir = replayAcks.reduce((s, p) => s + airtimeS(p.txpk.datr, p.txpk.size), 0);
  const retx = await metric("lorageo_retransmissions_total");
  check(retx === 1500, `1,500 retransmissions seen (${retx})`);
  check(replayAcks.length === 0, `the replays got no ACK beyond the frame's one (NbTrans 1): ${replayAcks.length}`);
  check(replayAir <= 36, `their airtime within the hour's budget (${replayAir.toFixed(2)} s)`);
  const limited = await metric('lorageo_downlinks_total{result="ack_limit"}');
  check(limited === 1500, `every refused ACK counted as ack_limit (${limited})`);
  const down1 = (await api("GET", `/api/devices/${ABP.dev_eui}`)).json.f_cnt_down_next;
  check(down1 === down0, `the downlink counter did not move (${down0} -> ${down1})`);

  // ---- 1,500 fresh confirmed uplinks on distinct frequencies: the sub-band budgets hold
  g.inbox.length = 0;
  const fresh = Array.from({ length: 1500 }, (_, i) => [lora.fromFields({ MType: "Confirmed Data Up",
    DevAddr: Buffer.from(ABP.dev_addr, "hex"), FCnt: 2 + i, FPort: 2, payload: Buffer.from("x") }, app, nwk).getPHYPayload(),
    868000000 + 400 * (i + 1)]);
  const upBefore = await metric("lorageo_uplinks_total");
  await burst(fresh);
  for (let t = 0; t < 200 && (await metric("lorageo_uplinks_total")) - upBefore < 1500; t++) await sleep(100);
  await sleep(300);
  const air = { M: 0, P: 0, other: 0 };
  for (const p of pullResps(g)) air[band(p.txpk.freq)] += airtimeS(p.txpk.datr, p.txpk.size);
  check((await metric("lorageo_uplinks_total")) - upBefore === 1500, "1,500 fresh uplinks stored");
  check(air.M <= 36 && air.M > 30, `RX1 band M (1 %): ${air.M.toFixed(2)} s of 36 s`);
  check(air.P <= 360, `RX2 band P (10 %): ${air.P.toFixed(2)} s of 360 s`);
  check(air.other === 0, "nothing outside the sub-bands");
  check((await metric('lorageo_downlinks_total{result="duty_cycle"}')) > 0, "duty-cycle refusals counted");
  const told = (await api("GET", `/api/devices/${ABP.dev_eui}/events?limit=100`)).json.items
    .filter((e) => e.type === "log" && /DOWNLINK_GATEWAY/.test(JSON.stringify(e)) && /duty-cycle budget/.test(JSON.stringify(e)));
  check(told.length > 0, `the device's application is told of ACKs the duty cycle kept back (${told.length} log events of the last 100)`);
  console.log(`security: ACK airtime of 1,500 fresh confirmed uplinks: band M ${air.M.toFixed(2)} s, band P ${air.P.toFixed(2)} s; ` +
              `${pullResps(g).length} ACKs`);

  // ---- radio input checked against the region
  const up = (addr, fcnt) => lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from(addr, "hex"),
    FCnt: fcnt, FPort: 2, payload: Buffer.from("r") }, app, nwk).getPHYPayload();
  const pushAt = (phy, freq, datr = "SF7BW125") =>
    send(g, Buffer.concat([header(0, g.eui), Buffer.from(`{"rxpk":[${rxpkFor(g, phy, clock.emit, 0, 5000000, freq, datr)}]}`)]));
  let before = await metric("lorageo_uplinks_total");
  await pushAt(up(ABP.dev_addr, 5000), "100.000000");
  await pushAt(up(ABP.dev_addr, 5001), "868.100000", "SF7BW500");
  await sleep(400);
  check((await metric('lorageo_rx_dropped_total{reason="frequency"}')) === 1, "a 100 MHz uplink dropped as frequency");
  check((await metric('lorageo_rx_dropped_total{reason="data_rate"}')) === 1, "SF7 at 500 kHz dropped as data_rate (not EU868)");
  check((await metric("lorageo_uplinks_total")) === before, "neither stored");
  check(/100\.000000 MHz is no EU868 uplink frequency/.test(server.log), "the reason logged");

  // ---- an ABP device that reboots at FCnt 100
  const resets = { ...ABP, dev_eui: "0102030405060709", dev_addr: "49be7df2", fcnt_resets_allowed: true };
  const strict = { ...ABP, dev_eui: "010203040506070a", dev_addr: "49be7df3" };
  for (const d of [resets, strict]) check((await api("POST", "/api/devices", d)).status === 201, `device ${d.dev_eui}`);
  for (const [d, fcnt, f] of [[resets, 100, "868.300000"], [strict, 100, "868.300000"], [resets, 0, "868.500000"], [strict, 0, "868.500000"]]) {
    clock.emit += 1000000000n;
    await pushAt(up(d.dev_addr, fcnt), f);
    await sleep(300);
  }
  const replays = await metric('lorageo_rx_dropped_total{reason="replay"}');
  r = await api("GET", `/api/devices/${resets.dev_eui}/uplinks?limit=5`);
  check(r.json.items.map((u) => u.f_cnt).join() === "0,100", `the rebooted device's FCnt 0 accepted after 100: ${r.json.items.map((u) => u.f_cnt)}`);
  r = await api("GET", `/api/devices/${resets.dev_eui}/events?limit=10`);
  const reset = r.json.items.find((e) => e.type === "reset");
  check(reset && reset.payload.f_cnt === 0 && reset.payload.f_cnt_expected === 101, `reported as a reset event: ${JSON.stringify(reset)}`);
  r = await api("GET", `/api/devices/${strict.dev_eui}/uplinks?limit=5`);
  check(r.json.items.length === 1 && replays === 1, `without fcnt_resets_allowed: refused as a replay (${r.json.items.length} stored, ${replays} replays)`);

  // ---- the API's doors
  const devBody = JSON.stringify({ ...ABP, dev_eui: "0102030405060799", dev_addr: "49be7df9" });
  r = await raw("POST", "/api/devices", { "Content-Type": "text/plain" }, devBody);
  check(r.status === 415, `a text/plain body refused (no CORS preflight for it): ${r.status} ${r.text}`);
  r = await raw("POST", "/api/devices", {}, devBody);
  check(r.status === 415, `a body without a type refused: ${r.status}`);
  r = await raw("POST", "/api/devices", { "Content-Type": "application/json", Origin: "http://evil.example" }, devBody);
  check(r.status === 403 && /Origin/.test(r.json?.error), `a foreign Origin refused: ${r.status} ${r.text}`);
  r = await raw("POST", "/api/devices", { "Content-Type": "application/json; charset=utf-8", Origin: `http://127.0.0.1:${httpPort}` }, devBody);
  check(r.status === 201, `the server's own Origin served: ${r.status} ${r.text}`);
  r = await raw("GET", "/api/devices", { Host: `evil.example:${httpPort}` });
  check(r.status === 421 && /Host/.test(r.json?.error), `a foreign Host refused (DNS rebinding): ${r.status} ${r.text}`);
  r = await raw("GET", "/", { Host: `evil.example:${httpPort}` });
  check(r.status === 421, `... for the web UI too: ${r.status}`);
  for (const h of [`localhost:${httpPort}`, `127.0.0.1:${httpPort}`])
    check((await raw("GET", "/api/devices", { Host: h })).status === 200, `Host ${h} served`);

  // ---- 1,000 idle connections: health still answers within 100 ms
  const idle = [];
  await Promise.all(Array.from({ length: 1000 }, () => new Promise((res) => {
    const s = net.connect(httpPort, "127.0.0.1", res);
    s.on("error", res);
    idle.push(s);
  })));
  await sleep(300);
  const ms = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const h = await raw("GET", "/api/health");
    ms.push(h.status === 200 ? performance.now() - t0 : Infinity);
  }
  for (const s of idle) s.destroy();
  ms.sort((a, b) => a - b);
  check(ms[9] < 100, `with 1,000 idle connections /api/health answers in ${ms[0].toFixed(1)}..${ms[9].toFixed(1)} ms (< 100)`);
  console.log(`security: /api/health with 1,000 idle connections: median ${ms[5].toFixed(1)} ms, max ${ms[9].toFixed(1)} ms`);

  // ---- the token only in the Authorization header; listed names and origins let in
  await stop();
  start({ LORAGEO_API_TOKEN: "s3cret", LORAGEO_API_ALLOWED_HOSTS: "lorageo.test, other.test",
          LORAGEO_API_ALLOWED_ORIGINS: "https://ui.example" });
  await waitHealthy();
  r = await raw("GET", "/api/devices?token=s3cret");
  check(r.status === 401, `the token in the URL refused: ${r.status}`);
  r = await raw("GET", "/api/stream?token=s3cret");
  check(r.status === 401, `... for the live stream too: ${r.status}`);
  const bearer = { Authorization: "Bearer s3cret" };
  r = await raw("GET", "/api/devices", { ...bearer, Host: `lorageo.test:${httpPort}` });
  check(r.status === 200 && r.json.items.length === 4, `a listed Host with the bearer token: ${r.status}`);
  r = await raw("POST", "/api/gateways", { ...bearer, "Content-Type": "application/json", Origin: "https://ui.example" },
                JSON.stringify({ gateway_eui: "aa555a00000000ff", latitude: 1, longitude: 2 }));
  check(r.status === 201, `a listed Origin served: ${r.status} ${r.text}`);

  // ---- the database's files (it holds keys) readable by their owner only
  if (!process.env.LORAGEO_TEST_PG) {
    const files = [database, `${database}-wal`, `${database}-shm`].filter((f) => fs.existsSync(f));
    const modes = files.map((f) => (fs.statSync(f).mode & 0o777).toString(8));
    check(files.length === 3 && modes.every((m) => m === "600"), `database, -wal and -shm are 0600: ${modes}`);
  }
}, async () => {
  for (const x of gateways) x.sock.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
