// Shared by the end-to-end tests: a lorageo server on random ports, four gateways on the
// Semtech UDP protocol at known positions, frames built by lora-packet (an independent
// LoRaWAN implementation) and timestamped from the true geometry.
import { execFileSync, spawn } from "node:child_process";
import dgram from "node:dgram";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import lora from "lora-packet";

export const BIN = process.argv[2] ?? "../../build/lorageo";
export const C = 299792458;
export const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lorageo-serve-"));
// Ports: `count` in a row (from a random start) that nothing on the machine holds now, as
// TCP and as UDP; tests run side by side (ctest -j) and beside other work, and a port taken
// by another process made a server fail to start ("Address already in use").
async function portFree(port) {
  const tcp = await new Promise((r) => {
    const s = net.createServer().once("error", () => r(false)).listen(port, "127.0.0.1", () => s.close(() => r(true)));
  });
  if (!tcp) return false;
  return new Promise((r) => {
    const u = dgram.createSocket("udp4").once("error", () => r(false));
    u.bind(port, "127.0.0.1", () => u.close(() => r(true)));
  });
}
// Below 32768: the kernel hands out 32768-60999 as the local ports of outgoing connections
// (ip_local_port_range), which come and go faster than any check.
export async function freePorts(count, from = 21000, span = 11000) {
  for (let tries = 0; tries < 200; tries++) {
    const start = from + Math.floor(Math.random() * (span - count));
    let ok = true;
    for (let p = start; p < start + count && ok; p++) ok = await portFree(p);
    if (ok) return start;
  }
  throw new Error(`no ${count} free ports in a row between ${from} and ${from + span}`);
}
export const udpPort = await freePorts(4); // UDP, HTTP, and two more (a Basics Station bind)
export const httpPort = udpPort + 1;
// Device keys are wrapped with a key-encryption key ([security] kek_file). SQLite makes one
// beside its database; PostgreSQL needs it given, and every instance of a test the same.
if (!process.env.LORAGEO_SECURITY_KEK_FILE) {
  const kek = path.join(dir, "test.kek");
  fs.writeFileSync(kek, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
  process.env.LORAGEO_SECURITY_KEK_FILE = kek;
}
export const base = `http://127.0.0.1:${httpPort}`;
export const tally = { checks: 0, failures: 0 };
export let server = null;
// The database: a SQLite file, or with LORAGEO_TEST_PG (a PostgreSQL URI without the
// database, e.g. postgresql:///) a fresh database of its own on that server.
export const database = (() => {
  const pg = process.env.LORAGEO_TEST_PG;
  if (!pg) return path.join(dir, "lorageo.db");
  const name = `lorageo_test_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  const admin = `${pg.replace(/\/$/, "")}/postgres`;
  execFileSync("psql", [admin, "-qc", `CREATE DATABASE ${name}`]);
  process.on("exit", () => { /* the server is gone by then (or is killed: FORCE) */
    try { execFileSync("psql", [admin, "-qc", `DROP DATABASE ${name} WITH (FORCE)`]); } catch {}
  });
  return `${pg.replace(/\/$/, "")}/${name}`;
})();

export function check(cond, what) {
  tally.checks++;
  if (!cond) {
    tally.failures++;
    console.error(`FAIL ${what}`);
  }
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Polls pred every 50 ms until it holds or ms pass; its last answer.
export async function waitFor(pred, ms = 8000) {
  for (let t = 0; t < ms; t += 50) {
    if (pred()) return true;
    await sleep(50);
  }
  return pred();
}
// Publishes one message (QoS 1) with the broker's own client, mosquitto_pub.
export function mqttPublish(port, topic, payload) {
  return new Promise((r) => spawn("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-q", "1",
    "-t", topic, "-m", payload]).on("exit", r));
}

export function start(extraEnv = {}) {
  server = spawn(BIN, ["serve"], { // the journal in the test's directory, not the source tree
    env: { ...process.env, LORAGEO_SERVER_JOURNAL: path.join(dir, "journal"),
           LORAGEO_GEO_LEARNED: path.join(dir, "learned.geo.json"), LORAGEO_ADR_LEARNED: path.join(dir, "learned.adr.json"), ...extraEnv, LORAGEO_SERVER_UDP_BIND: `127.0.0.1:${udpPort}`,
           LORAGEO_SERVER_HTTP_BIND: `127.0.0.1:${httpPort}`,
           LORAGEO_SERVER_DATABASE: database, LORAGEO_GEO_SIGMA_NS: "5" },
    stdio: ["ignore", "inherit", "pipe"],
  });
  server.log = "";
  server.stderr.on("data", (d) => (server.log += d));
  server.on("exit", (code, sig) => (server.log += `\n[lorageo exited: code ${code}, signal ${sig}]\n`));
}
export async function waitHealthy() {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/api/health`)).ok) return;
    } catch {}
    await sleep(50);
  }
  throw new Error("server did not come up:\n" + server.log);
}
export async function stop() {
  if (server.exitCode !== null || server.signalCode !== null) return; /* already gone */
  const exited = new Promise((r) => server.on("exit", r));
  server.kill("SIGTERM");
  await exited;
  cleanExit(server.exitCode, server.log, "the server");
}
// A server stopped with SIGTERM exits 0, and (in the sanitizer build) reports nothing: a
// leak or a runtime error anywhere on the paths the test drove fails the test.
export function cleanExit(code, log, who) {
  const report = /(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error)[^\n]*/.exec(log);
  check(code === 0 && !report, `${who} stopped cleanly (exit ${code}${report ? `: ${report[0]}` : ""})`);
  if (report) console.error(log.slice(report.index, report.index + 6000)); // the whole report
}
// Runs a test's body against the server: an exception is a failure, the server is stopped
// whatever happened, then the test's own cleanup runs; a failure prints the server's log, and the
// tally decides the exit code.
export async function runServerTest(name, body, cleanup = async () => {}) {
  try {
    await body();
  } catch (e) {
    tally.failures++;
    console.error(`FAIL ${e.stack}`);
  } finally {
    await stop().catch(() => {});
    await cleanup().catch((e) => console.error(`cleanup: ${e.stack}`));
  }
  console.log(`${name}: ${tally.checks} checks, ${tally.failures} failed`);
  if (tally.failures || process.env.LG_VERBOSE) console.error(server?.log ?? "");
  process.exit(tally.failures ? 1 : 0);
}
// Never hang a CI run.
export function armTimeout(ms) {
  setTimeout(() => {
    console.error(`FAIL timeout after ${ms / 1000} s\n` + (server?.log ?? ""));
    server?.kill("SIGKILL");
    process.exit(1);
  }, ms).unref();
}
export const json = { "Content-Type": "application/json" }; // the API takes JSON bodies only so
/* A request with an API key (or the [api] token): status, parsed JSON, text. */
export async function as(key, method, url, body) {
  const r = await fetch(base + url, { method, headers: { ...json, Authorization: `Bearer ${key}` },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null, text };
}
export async function api(method, url, body) {
  const go = () => fetch(base + url, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: json });
  // A keep-alive connection idle past the server's timeout may be closed just as it is
  // reused: that is no answer from the server, so the request goes once more on a new one
  // (a server that is gone fails the second time too).
  const r = await go().catch((e) => (e.cause?.code === "UND_ERR_SOCKET" ? go() : Promise.reject(e)));
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null, text };
}
export async function metric(name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ")[1]) : NaN;
}

// ---- several servers on one database (issue 8's tests): instance k on its own ports
export async function listening(port, ms = 10000) {
  for (let t = 0; t < ms; t += 50) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, "127.0.0.1", () => { c.destroy(); r(true); });
      c.on("error", () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on port ${port}`);
}
// A real redis-server on a free port, nothing saved (the cluster tests); bin: argv[3]
export function redisServer(bin = process.argv[3] ?? "redis-server") {
  const port = 20000 + Math.floor(Math.random() * 3000);
  const r = { port, url: `redis://127.0.0.1:${port}`, proc: null };
  r.start = async () => {
    r.proc = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                   { stdio: "ignore" });
    await listening(port);
  };
  r.stop = async () => {
    if (!r.proc || r.proc.exitCode !== null || r.proc.signalCode !== null) return;
    const exited = new Promise((done) => r.proc.on("exit", done));
    r.proc.kill("SIGTERM");
    await exited;
  };
  return r;
}
const instanceBase = await freePorts(40, 24000, 8000); // instance k: instanceBase + 10 k ...
// udp: another instance's UDP port to share (with [server] reuse_port)
export function instance(k, extraEnv = {}, udp = instanceBase + 10 * k) {
  const inst = { udp, http: instanceBase + 10 * k + 1, log: "" };
  const url = (u) => `http://127.0.0.1:${inst.http}${u}`;
  inst.start = () => {
    inst.proc = spawn(BIN, ["serve"], {
      env: { ...process.env, LORAGEO_SERVER_JOURNAL: path.join(dir, `journal-${inst.http}`),
             LORAGEO_ADR_LEARNED: path.join(dir, `learned-${inst.http}.adr.json`), ...extraEnv,
             LORAGEO_SERVER_UDP_BIND: `127.0.0.1:${inst.udp}`,
             LORAGEO_SERVER_HTTP_BIND: `127.0.0.1:${inst.http}`, LORAGEO_SERVER_DATABASE: database },
      stdio: ["ignore", "inherit", "pipe"],
    });
    inst.proc.stderr.on("data", (d) => (inst.log += d));
  };
  inst.stop = async () => {
    if (!inst.proc || inst.proc.exitCode !== null || inst.proc.signalCode !== null) return;
    const exited = new Promise((r) => inst.proc.on("exit", r));
    inst.proc.kill("SIGTERM");
    await exited;
    cleanExit(inst.proc.exitCode, inst.log, `instance ${k}`);
  };
  inst.healthy = async () => {
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(url("/api/health"))).ok) return;
      } catch {}
      await sleep(50);
    }
    throw new Error("instance did not come up:\n" + inst.log);
  };
  inst.api = async (method, u, body) => {
    const r = await fetch(url(u), { method, body: body === undefined ? undefined : JSON.stringify(body), headers: json });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  };
  inst.metric = async (name) => {
    const line = (await (await fetch(url("/metrics"))).text()).split("\n").find((l) => l.startsWith(name + " "));
    return line ? Number(line.split(" ")[1]) : NaN;
  };
  inst.push = (g, rxpk) => new Promise((r) =>
    g.sock.send(Buffer.concat([header(0, g.eui), Buffer.from(`{"rxpk":[${rxpk}]}`)]), inst.udp, "127.0.0.1", r));
  // true when the instance answered with the PUSH_ACK (the copy is accepted)
  inst.pushAcked = async (g, rxpk, ms = 500) => {
    const token = Math.floor(Math.random() * 65536);
    const acked = (m) => m.length === 4 && m[3] === 1 && m.readUInt16BE(1) === token;
    await new Promise((r) => g.sock.send(Buffer.concat([header(0, g.eui, token),
      Buffer.from(`{"rxpk":[${rxpk}]}`)]), inst.udp, "127.0.0.1", r));
    for (let t = 0; t < ms; t += 5) {
      if (g.inbox.some(acked)) return true;
      await sleep(5);
    }
    return false;
  };
  inst.pull = (g) => new Promise((r) => g.sock.send(header(2, g.eui), inst.udp, "127.0.0.1", r));
  inst.txAck = (g, token, error) => new Promise((r) => g.sock.send(Buffer.concat([
    header(5, g.eui, token), Buffer.from(JSON.stringify({ txpk_ack: { error } }))]), inst.udp, "127.0.0.1", r));
  return inst;
}

// ---- geometry: WGS-84, written here from the formulas (independent of lorageo) ----
export const A = 6378137, F = 1 / 298.257223563, E2 = F * (2 - F);
export function ecef(lat, lon, h) {
  const p = (lat * Math.PI) / 180, l = (lon * Math.PI) / 180;
  const n = A / Math.sqrt(1 - E2 * Math.sin(p) ** 2);
  return [(n + h) * Math.cos(p) * Math.cos(l), (n + h) * Math.cos(p) * Math.sin(l), (n * (1 - E2) + h) * Math.sin(p)];
}
export const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
export function haversine(lat1, lon1, lat2, lon2) {
  const r = (x) => (x * Math.PI) / 180;
  const k = Math.sin(r(lat2 - lat1) / 2) ** 2 + Math.cos(r(lat1)) * Math.cos(r(lat2)) * Math.sin(r(lon2 - lon1) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(k));
}

export const truth = { lat: 55.7819, lon: 12.4608 };
export const gateways = [
  { eui: "aa555a0000000001", lat: 55.8005, lon: 12.4520, alt: 40, antennas: true },
  { eui: "aa555a0000000002", lat: 55.7750, lon: 12.4950, alt: 25 },
  { eui: "aa555a0000000003", lat: 55.7620, lon: 12.4400, alt: 60 },
  { eui: "aa555a0000000004", lat: 55.7890, lon: 12.4130, alt: 35 },
];
for (const g of gateways) {
  g.sock = dgram.createSocket("udp4");
  g.inbox = [];
  g.sock.on("message", (m) => g.inbox.push(m));
}

// at: where the device is ({lat, lon}; truth unless given)
export function rxpkFor(g, phy, emitNs, extraDelayNs = 0, tmst = 1000000, freq = "868.100000", datr = "SF7BW125", at = truth) {
  const d = dist(ecef(at.lat, at.lon, 0), ecef(g.lat, g.lon, g.alt));
  const arrival = emitNs + BigInt(Math.round((d / C) * 1e9 + extraDelayNs));
  const gpsNs = arrival - 315964800000000000n + 18000000000n;
  const iso = new Date(Number(arrival / 1000000n)).toISOString().replace(/\.\d+Z$/, "");
  const us = String((arrival % 1000000000n) / 1000n).padStart(6, "0");
  // tmms and time_ns are integers beyond 2^53: spliced in as JSON text.
  return `{"time":"${iso}.${us}Z","tmms":${gpsNs / 1000000n},"ftime":${gpsNs % 1000000000n},` +
    `"tmst":${tmst},"chan":0,"rfch":0,"freq":${freq},"stat":1,"modu":"LORA","datr":"${datr}",` +
    `"codr":"4/5","rssi":${-80 - Math.round(d / 100)},"lsnr":${(10 - d / 1000).toFixed(1)},` +
    `"size":${phy.length},"data":"${phy.toString("base64")}"` +
    (g.antennas ? `,"rsig":[{"ant":0,"chan":0,"rssic":-95,"lsnr":8.5,"ftime":${gpsNs % 1000000000n}},` +
                  `{"ant":1,"chan":0,"rssic":-99,"lsnr":6.0,"ftime":${gpsNs % 1000000000n}}]` : "") + "}";
}
export function header(type, eui, token = Math.floor(Math.random() * 65536)) {
  return Buffer.concat([Buffer.from([2, token >> 8, token & 0xff, type]), Buffer.from(eui, "hex")]);
}
export function send(g, buf) {
  return new Promise((r) => g.sock.send(buf, udpPort, "127.0.0.1", r));
}
export async function push(g, rxpkJson) {
  await send(g, Buffer.concat([header(0, g.eui), Buffer.from(`{"rxpk":[${rxpkJson}]}`)]));
}
export async function pull(g) {
  await send(g, header(2, g.eui));
}
export function pullResps(g) {
  return g.inbox.filter((m) => m.length > 4 && m[3] === 3).map((m) => ({ token: m.readUInt16BE(1), txpk: JSON.parse(m.subarray(4).toString()).txpk }));
}

export const ABP = { dev_eui: "0102030405060708", dev_addr: "49be7df1",
  nwk_s_key: "44024241ed4ce9a68c6a8bc055233fd3", app_s_key: "ec925802ae430ca77fd3dd73cb2cc588" };
export const nwk = Buffer.from(ABP.nwk_s_key, "hex"), app = Buffer.from(ABP.app_s_key, "hex");
export function dataUp(fcnt, payload, confirmed = false, key = nwk) {
  return lora.fromFields({ MType: confirmed ? "Confirmed Data Up" : "Unconfirmed Data Up",
    DevAddr: Buffer.from(ABP.dev_addr, "hex"), FCnt: fcnt, FPort: 2, payload: Buffer.from(payload) }, app, key).getPHYPayload();
}
export const clock = { emit: BigInt(Date.now()) * 1000000n }; // the next frame's emission, ns
export async function frameFromAll(phy, gws = gateways, opts = {}) {
  clock.emit += 10000000000n;
  for (const g of gws) await push(g, rxpkFor(g, phy, clock.emit, opts.delay?.[g.eui] ?? 0, 1000000, opts.freq, undefined, opts.at));
}

