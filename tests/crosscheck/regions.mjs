// Every region end to end: for each RP002-1.0.4 region a server runs with `[network] region`
// set to it and a small simulated fleet (OTAA, confirmed uplinks, ADR) goes through the real
// UDP path: every device joins with the region's join-accept delays, its uplinks are stored,
// and every downlink (join-accepts, ACKs, MAC commands) arrives in its window, on the
// region's RX1 channel or RX2, with a good MIC.
// Usage: node regions.mjs path/to/lorageo
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { armTimeout, BIN, check, cleanExit, dir, freePorts, sleep, tally } from "./harness.mjs";

armTimeout(600000);
const REGIONS = ["EU868", "US915", "AU915", "AS923-1", "AS923-2", "AS923-3", "AS923-4", "KR920", "IN865", "RU864", "EU433", "CN470"];
const speed = process.env.LORAGEO_TEST_SPEED ?? "4";
for (const region of REGIONS) {
  const port = await freePorts(2);
  const db = path.join(dir, `${region}.db`);
  const srv = spawn(BIN, ["serve"], {
    env: { ...process.env, LORAGEO_SERVER_UDP_BIND: `127.0.0.1:${port}`, LORAGEO_SERVER_HTTP_BIND: `127.0.0.1:${port + 1}`,
           LORAGEO_SERVER_DATABASE: db, LORAGEO_SERVER_JOURNAL: path.join(dir, `${region}.journal`),
           LORAGEO_GEO_LEARNED: "", LORAGEO_ADR_LEARNED: "", LORAGEO_NETWORK_REGION: region },
    stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  srv.stderr.on("data", (d) => (log += d));
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    await sleep(50);
    up = await fetch(`http://127.0.0.1:${port + 1}/api/health`).then((r) => r.ok, () => false);
  }
  check(up, `${region}: the server comes up (${log.slice(0, 300)})`);
  const scn = path.join(dir, `${region}.json`);
  fs.writeFileSync(scn, JSON.stringify({
    region, seed: 3, duration_s: 40, origin: { lat: 55.7819, lon: 12.5106 },
    gateways: [{ east_m: -800, north_m: 0 }, { east_m: 800, north_m: 0 }, { east_m: 0, north_m: 800 }],
    groups: [{ name: "fleet", count: 3, activation: "otaa", dr: 2, adr: "standard", payload_bytes: 8,
               confirmed_share: 1, traffic: { kind: "periodic", period_s: 8, jitter_s: 1 },
               placement: { kind: "disc", radius_m: 500 } }],
    duty_cycle: false,
  }));
  // At --speed K, RX1's 1 s is 1000/K ms of wall-clock time, most of it the server's own
  // de-duplication window: a machine busy with the rest of the suite makes a downlink late
  // that a real gateway (a full second) would send. The grace gives the server 400 ms more
  // of wall-clock time, still less than the second it has on a real network; later is
  // TOO_LATE and fails below. (CI, 2026-12-06: one ACK of 84 late under --speed 4.)
  const sim = spawnSync(BIN, ["sim", scn, "--server", `127.0.0.1:${port}`, "--api", `http://127.0.0.1:${port + 1}`,
    "--speed", speed, "--downlink-grace-ms", "400", "--quiet"], { encoding: "utf8", timeout: 60000 });
  check(sim.status === 0, `${region}: sim exits 0 (${sim.stderr.slice(0, 300)})`);
  if (sim.status === 0) {
    const sum = JSON.parse(sim.stdout), live = sum.live;
    check(sum.joins.accepted === 3, `${region}: 3 devices joined (${JSON.stringify(sum.joins)})`);
    check(sum.downlinks.confirmed_acked > 0, `${region}: confirmed uplinks acknowledged (${JSON.stringify(sum.downlinks)})`);
    check(live.downlinks_bad_mic === 0 && live.downlinks_missed_window === 0 && live.tx_ack_too_late === 0,
      `${region}: every downlink in its window with a good MIC (${JSON.stringify(live)})`);
    const devs = (await (await fetch(`http://127.0.0.1:${port + 1}/api/devices`)).json()).items;
    let stored = 0;
    for (const d of devs)
      stored += (await (await fetch(`http://127.0.0.1:${port + 1}/api/devices/${d.dev_eui}/uplinks?limit=1000`)).json()).items.length;
    check(stored === sum.messages_delivered && stored >= 5, `${region}: every delivered uplink stored (${stored} of ${sum.messages_delivered})`);
    console.log(`regions: ${region}: ${sum.joins.accepted} joined, ${stored} uplinks stored, ${live.downlinks_received} downlinks taken` +
      ` (${live.downlinks_late_accepted} within the grace)`);
  }
  const exited = new Promise((r) => srv.on("exit", r));
  srv.kill("SIGTERM");
  await exited;
  cleanExit(srv.exitCode, log, `${region}: the server`);
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(`regions: ${tally.checks} checks, ${tally.failures} failures`);
process.exit(tally.failures ? 1 : 0);
