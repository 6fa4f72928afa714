// LoRa Basics Station end to end (issue 17 item 2): `lorageo sim --station` plays the
// gateways as stations of a real `lorageo serve` ([basicstation] bind): router-info, the
// traffic connection with a bearer token, version → router_config, OTAA joins (jreq →
// dnmsg join-accepts in RX1/RX2 with the uplink's xtime, confirmed by dntxed), updf with
// gpstime + fts. The same fleet geometry run over Semtech UDP gives the reference: the
// stations' uplinks must be located as accurately (median error within 20 % + 5 m).
// Refused: a wrong token, no token for a gateway that has one, an unprovisioned gateway.
// Usage: node station.mjs path/to/lorageo
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
  api, armTimeout, BIN, check, dir, httpPort, metric as metricOnce, runServerTest, server, start, stop, tally, udpPort, waitHealthy,
} from "./harness.mjs";

// a keep-alive connection idle through a long simulator run may be closed as it is reused
const metric = (name) => metricOnce(name).catch(() => metricOnce(name));

armTimeout(240000);
const stationPort = udpPort + 2;
const speed = process.env.LORAGEO_TEST_SPEED ?? "3";
const TOKEN = "s3cret-station-token-0123456789";

// static devices at fixed points inside five fine-timestamp gateways: the same geometry for
// both runs (the seed only changes the devices' identities and the noise)
const points = [[-600, 200], [300, -500], [700, 600], [-200, -700], [100, 100], [-800, -300]];
function scenario(file, seed, euiBase) {
  fs.writeFileSync(file, JSON.stringify({
    region: "EU868", seed, duration_s: 70,
    origin: { lat: 55.7819, lon: 12.5106 },
    gateways: [[-1500, -1500], [1500, -1500], [1500, 1500], [-1500, 1500], [0, 1800]].map(([e, n], i) => ({
      eui: (euiBase + BigInt(i)).toString(16).padStart(16, "0"), east_m: e, north_m: n })),
    groups: [
      { name: "otaa", count: 3, activation: "otaa", dr: 5, payload_bytes: 10, confirmed_share: 0.5,
        traffic: { kind: "periodic", period_s: 7 },
        placement: { kind: "points", points: points.slice(0, 3).map(([e, n]) => ({ east_m: e, north_m: n })) } },
      { name: "abp", count: 3, activation: "abp", dr: 5, payload_bytes: 6,
        traffic: { kind: "periodic", period_s: 5, jitter_s: 1 },
        placement: { kind: "points", points: points.slice(3).map(([e, n]) => ({ east_m: e, north_m: n })) } },
    ],
    channel: { path_loss: { sigma_db: 2 } },
    duty_cycle: false,
  }));
}

function sim(args) {
  return spawnSync(BIN, ["sim", ...args, "--speed", speed, "--quiet"], { encoding: "utf8", timeout: 150000 });
}

const haversine = (a, b, c, d) => {
  const r = Math.PI / 180, x = Math.sin(((c - a) * r) / 2) ** 2 +
    Math.cos(a * r) * Math.cos(c * r) * Math.sin(((d - b) * r) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(x));
};
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

// every location the server stored for the run's devices, against where they stand
async function locationErrors(out) {
  const devs = fs.readFileSync(path.join(out, "devices.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
  // device i stands at points[i] (east, north from the origin; a flat-earth offset is good
  // to well under a metre at these distances, and the same for both runs)
  const truth = new Map(points.map(([e, n], i) => [String(i),
    [55.7819 + n / 111194.93, 12.5106 + e / (111194.93 * Math.cos((55.7819 * Math.PI) / 180))]]));
  const errs = [];
  for (const [i, eui] of devs) {
    const t = truth.get(i);
    if (!t) continue;
    const locs = (await api("GET", `/api/devices/${eui}/locations?limit=1000`)).json.items ?? [];
    for (const l of locs) errs.push(haversine(t[0], t[1], l.latitude, l.longitude));
  }
  return errs;
}

await runServerTest("station", async () => {
  start({ LORAGEO_BASICSTATION_BIND: `127.0.0.1:${stationPort}` });
  await waitHealthy();
  const apiUrl = `http://127.0.0.1:${httpPort}`;

  // 1. the reference: the fleet over Semtech UDP
  const udpScenario = path.join(dir, "udp.json"), udpOut = path.join(dir, "udp-out");
  scenario(udpScenario, 11, 0x00aa000000000001n);
  const u = sim([udpScenario, "--server", `127.0.0.1:${udpPort}`, "--api", apiUrl, "--out", udpOut]);
  check(u.status === 0, `UDP run exits 0 (${u.stderr})`);
  const udpErrs = await locationErrors(udpOut);

  // 2. the same fleet as Basics Stations, with a token set on each gateway through the API
  const stScenario = path.join(dir, "station.json"), stOut = path.join(dir, "station-out");
  scenario(stScenario, 12, 0x00bb000000000001n);
  const s = sim([stScenario, "--station", `ws://127.0.0.1:${stationPort}`, "--station-token", TOKEN,
                 "--api", apiUrl, "--out", stOut]);
  check(s.status === 0, `station run exits 0 (${s.stderr})`);
  const sum = JSON.parse(s.stdout || "{}");
  const live = sum.live ?? {};
  check(sum.joins?.accepted === 3, `all 3 OTAA devices joined through stations (${JSON.stringify(sum.joins)})`);
  check(live.station?.dnmsg >= 3 + 3 && live.station?.dntxed === live.station?.dnmsg,
        `join-accepts and ACKs came as dnmsg, each confirmed by dntxed (${JSON.stringify(live.station)})`);
  check(live.downlinks_received >= 3 + 3 && live.downlinks_bad_mic === 0 && live.downlinks_missed_window === 0 &&
        live.station?.too_late === 0, `every dnmsg reached its device in RX1/RX2 with a good MIC (${JSON.stringify(live)})`);
  check(live.station?.timesync === 5, `each station's timesync answered (${live.station?.timesync})`);
  check(await metric("lorageo_station_router_info_total") >= 5, "router-info answered every station");
  check(await metric('lorageo_station_messages_total{msgtype="updf"}') > 30, "updf received");
  check(await metric('lorageo_station_messages_total{msgtype="version"}') === 5, "a version from each station");
  check(await metric("lorageo_station_malformed_total") === 0, "no malformed station message");
  const gw = (await api("GET", "/api/gateways/00bb000000000001")).json;
  check(gw.has_station_token === true && !JSON.stringify(gw).includes(TOKEN),
        `the token is set and never returned (${JSON.stringify(gw)})`);
  // receptions keep their GPS-time receive times from gpstime + fts
  const devs = fs.readFileSync(path.join(stOut, "devices.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
  const ups = (await api("GET", `/api/devices/${devs[4][1]}/uplinks?limit=100`)).json.items ?? [];
  check(ups.length > 5 && ups.every((x) => x.rx_info.every((r) => Number.isInteger(r.time_ns) && r.time_ns > 1.7e18 &&
        r.gateway_eui.startsWith("00bb"))), `station uplinks stored with ns receive times (${ups.length})`);
  const stErrs = await locationErrors(stOut);
  const mu = median(udpErrs), ms = median(stErrs);
  console.log(`station: located ${stErrs.length} station frames (median ${ms.toFixed(1)} m) vs ` +
              `${udpErrs.length} UDP frames (median ${mu.toFixed(1)} m)`);
  check(udpErrs.length > 20 && stErrs.length > 20, `both runs located frames (${udpErrs.length}, ${stErrs.length})`);
  check(ms <= 1.2 * mu + 5, `stations located as accurately as UDP gateways (${ms.toFixed(1)} m vs ${mu.toFixed(1)} m)`);

  // 3. refusals: a wrong token, no token, an unprovisioned gateway (no --api: nothing is set)
  const refused0 = await metric("lorageo_station_refused_total");
  const short = path.join(dir, "short.json");
  scenario(short, 12, 0x00bb000000000001n);
  const bad = sim([short, "--station", `ws://127.0.0.1:${stationPort}`, "--station-token", "wrong-token-wrong-token"]);
  check(bad.status !== 0 && /refused|closed/.test(bad.stderr), `a wrong token is refused (${bad.status}: ${bad.stderr.trim()})`);
  const none = sim([short, "--station", `ws://127.0.0.1:${stationPort}`]);
  check(none.status !== 0, `no token is refused when the gateway has one (${none.stderr.trim()})`);
  check(await metric("lorageo_station_refused_total") >= refused0 + 2, "refusals counted");
  const unknown = path.join(dir, "unknown.json");
  scenario(unknown, 13, 0x00cc000000000001n);
  const unk = sim([unknown, "--station", `ws://127.0.0.1:${stationPort}`]);
  check(unk.status !== 0 && /not provisioned/.test(unk.stderr), `router-info refuses an unprovisioned gateway (${unk.stderr.trim()})`);
  // the server is still up and serving
  check((await api("GET", "/api/health")).status === 200, "the server survived the refusals");

  // 4. TLS with client certificates: a station with a certificate the configured CA signed
  // (and its token) connects over wss://; one signed by another CA is refused
  const ssl = (...a) => execFileSync("openssl", a, { cwd: dir, stdio: "pipe" });
  const selfSigned = (n) => ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                                `/CN=${n}`, "-keyout", `${n}.key`, "-out", `${n}.crt`);
  const signed = (n, ca, ext) => {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", `${n}.key`, "-out", `${n}.csr`);
    ssl("x509", "-req", "-in", `${n}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial",
        "-days", "2", "-out", `${n}.crt`, ...(ext ? ["-extfile", ext] : []));
  };
  selfSigned("ca"), selfSigned("rogue");
  fs.writeFileSync(path.join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  signed("srv", "ca", "san.ext"), signed("st", "ca"), signed("bad", "rogue");
  await stop();
  const f = (n) => path.join(dir, n);
  start({ LORAGEO_BASICSTATION_BIND: `127.0.0.1:${stationPort}`, LORAGEO_BASICSTATION_CERT_FILE: f("srv.crt"),
          LORAGEO_BASICSTATION_KEY_FILE: f("srv.key"), LORAGEO_BASICSTATION_CLIENT_CA_FILE: f("ca.crt") });
  await waitHealthy();
  const tlsShort = path.join(dir, "tls.json");
  scenario(tlsShort, 12, 0x00bb000000000001n);
  const wss = `wss://localhost:${stationPort}`;
  const good = sim([tlsShort, "--duration-s", "6", "--station", wss, "--station-token", TOKEN, "--station-ca",
                    f("ca.crt"), "--station-cert", f("st.crt"), "--station-key", f("st.key")]);
  check(good.status === 0 && JSON.parse(good.stdout || "{}").live?.station?.timesync === 5,
        `wss:// with a client certificate of the CA connects (${good.stderr.trim()})`);
  const refusedTls = await metric("lorageo_station_refused_total");
  const rogue = sim([tlsShort, "--duration-s", "6", "--station", wss, "--station-token", TOKEN, "--station-ca",
                     f("ca.crt"), "--station-cert", f("bad.crt"), "--station-key", f("bad.key")]);
  check(rogue.status !== 0, `a client certificate of another CA is refused (${rogue.stderr.trim()})`);
  const noCert = sim([tlsShort, "--duration-s", "6", "--station", wss, "--station-token", TOKEN, "--station-ca",
                      f("ca.crt")]);
  check(noCert.status !== 0, `no client certificate is refused (${noCert.stderr.trim()})`);
  check(await metric("lorageo_station_refused_total") > refusedTls, "certificate refusals counted");
  check(/refused a client certificate/.test(server.log), "and logged");
}, async () => {
  fs.rmSync(dir, { recursive: true, force: true });
});
