// The fleet scenario of issue 19, end to end through `lorageo serve`: 1,000 OTAA devices and
// 5 gateways live for a week of simulated time. The simulator injects faults — reboots,
// dying batteries, devices off for days, a gateway whose clock drifts — and writes their
// ground truth (faults.csv); the server's alarms are scored against it: precision and
// recall per kind and overall (each must be >= 0.95), and silences must clear when they
// end. On day 1 a desired configuration is set for every device: every device reachable
// afterwards must end in sync, and devices that were off for days when it was set must have
// received it when they came back.
//
// How a week fits in CI: the server runs with [server] time_scale = S and the simulator with
// --speed S (S = 2000: a week in ~5 minutes); both clocks run S times faster than the wall
// clock. At that speed no server answers inside RX1 (1 s / S of wall time), so the simulated
// gateways send a downlink that comes late by less than --downlink-grace-ms of wall time
// at the moment it asked for (docs/fleet.md says why this keeps the test honest).
// Usage: node fleet.mjs path/to/lorageo
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { api, armTimeout, BIN, check, dir, httpPort, sleep, start, stop, tally, udpPort, waitHealthy } from "./harness.mjs";

// The speed also multiplies the machine's hiccups: a server or simulator stopped for 2.5 s of
// wall time is 3.5 simulated hours late at 5000x (more than the hour a silence's alarm is
// given beyond its rule), 1.4 hours at 2000x. At 5000x a busy CI machine missed 5 silences
// and made 7 false ones; a 2.5 s SIGSTOP of the server here reproduced the misses.
const SPEED = Number(process.env.LORAGEO_TEST_FLEET_SPEED ?? 2000);
// Under the sanitizers (scripts/test.sh --sanitize sets LORAGEO_TEST_SPEED) the server runs
// 2-3x slower and a week at 5,000x cannot keep its timing: the run still goes through every
// path (what the sanitizers check, and the server must stop cleanly), but the scores are
// printed, not asserted — they are asserted in the normal build.
const asserted = process.env.LORAGEO_TEST_SPEED === undefined;
const claim = asserted ? check : (cond, what) => { if (!cond) console.log(`(not asserted under the sanitizers) ${what}`); };
const DAY = 86400, PERIOD = 7200, NEW_PERIOD = 6000;
armTimeout(Math.round((7 * 86400 / SPEED) * 1000 * 1.6) + 90000);
const scenario = path.join(dir, "fleet.json");
fs.writeFileSync(scenario, JSON.stringify({
  region: "EU868", seed: 19, duration_s: 7 * DAY,
  origin: { lat: 55.7819, lon: 12.5106 },
  gateways: [{ east_m: -2000, north_m: -2000 }, { east_m: 2000, north_m: -2000 }, { east_m: 0, north_m: 0 },
             { east_m: 2000, north_m: 2000 }, { east_m: -2000, north_m: 2000 }],
  timing: { noise_ns: 5 },
  groups: [{ name: "meters", count: 800, activation: "abp", dr: 3, payload_bytes: 8, profile_id: 1,
             traffic: { kind: "periodic", period_s: PERIOD, jitter_s: 300 }, placement: { kind: "disc", radius_m: 1500 } },
           { name: "trackers", count: 200, activation: "otaa", dr: 3, payload_bytes: 8, profile_id: 1,
             traffic: { kind: "periodic", period_s: PERIOD, jitter_s: 300 }, placement: { kind: "disc", radius_m: 1500 } }],
  channel: { path_loss: { sigma_db: 3 } },
  faults: {
    config_port: 222,
    reboots: { devices: 40, from_s: DAY, to_s: 6.5 * DAY },
    dying_batteries: { devices: 30, over_s: 2 * DAY, from_s: 0.5 * DAY, to_s: 3.5 * DAY },
    silences: { devices: 40, min_s: DAY, max_s: 2.5 * DAY, from_s: 0.15 * DAY, to_s: 2.3 * DAY },
    gateway_drift: [{ gateway: 2, start_s: 6 * DAY, ns_per_s: 0.2 }],
  },
}));
const out = path.join(dir, "fleet-out");
const H = 3600e9;
// how long after a fault's start its alarm may come, by rule (docs/fleet.md): a rebooted
// device acts at its next uplink (a period) and joins; silent after 3 expected intervals;
// a battery is asked every 6 h and answers in its next uplink; 40 located receptions
const DELAY = { reboot: 3 * H, silent: 8 * H, battery_low: 12 * H, gateway_clock: 6 * H };
const KIND = { reboot: "reboot", silent: "silent", battery: "battery_low", gateway_clock: "gateway_clock" };

async function allPages(url) {
  const items = [];
  for (let after = ""; ;) {
    const r = await api("GET", `${url}${url.includes("?") ? "&" : "?"}limit=1000${after ? `&after=${after}` : ""}`);
    items.push(...r.json.items);
    if (!r.json.next) return items;
    after = r.json.next;
  }
}

try {
  start({ LORAGEO_SERVER_TIME_SCALE: String(SPEED), LORAGEO_NETWORK_DEDUP_WINDOW_MS: "5000",
          LORAGEO_FLEET_STATUS_INTERVAL_S: "21600" });
  await waitHealthy();
  const prof = await api("POST", "/api/device-profiles", { name: "fleet meters", uplink_interval_s: PERIOD,
    adr_algorithm: "off", alarm_thresholds: { silent_intervals: 3, battery_raise: 50, battery_clear: 76 } });
  check(prof.status === 201 && prof.json.id === 1, `the fleet's profile (${prof.text})`);
  const t0wall = Date.now();
  const sim = spawn(BIN, ["sim", scenario, "--server", `127.0.0.1:${udpPort}`, "--api", `http://127.0.0.1:${httpPort}`,
    "--speed", String(SPEED), "--downlink-grace-ms", "400", "--out", out, "--quiet", "--no-plots"], { stdio: ["ignore", "pipe", "pipe"] });
  let simOut = "", simErr = "";
  sim.stdout.on("data", (d) => (simOut += d));
  sim.stderr.on("data", (d) => (simErr += d));
  const simDone = new Promise((r) => sim.on("exit", r));

  // the ground truth appears once the devices are provisioned; its times are the server's
  const faultsCsv = path.join(out, "faults.csv");
  while (!fs.existsSync(faultsCsv) && sim.exitCode === null) await sleep(100);
  await sleep(200);
  const faults = fs.readFileSync(faultsCsv, "utf8").trim().split("\n").slice(1).map((l) => {
    const [kind, subject, start_s, end_s, start_ns, end_ns, detail] = l.split(",");
    return { kind, subject, start_s: +start_s, end_s: end_s ? +end_s : Infinity, start: +start_ns,
             end: end_ns ? +end_ns : Infinity, detail };
  });
  const t0 = faults[0].start - faults[0].start_s * 1e9; // the server's clock at simulated 0
  check(faults.length === 40 + 30 + 40 + 1, `faults.csv holds every injected fault (${faults.length})`);

  // day 1: a desired configuration for every device (those off then get it when back)
  const now = async () => (await api("GET", "/api/health")).json.time_ns;
  while ((await now()) < t0 + DAY * 1e9 && sim.exitCode === null) await sleep(100);
  const devices = await allPages("/api/devices");
  check(devices.length === 1000, `1,000 devices provisioned (${devices.length})`);
  const desired = { channel_mask: "0003", uplink_interval_s: NEW_PERIOD, app_params: "0102", max_dr: 5 };
  const patchFrom = await now();
  let patched = 0;
  for (const d of devices) patched += (await api("PATCH", `/api/devices/${d.dev_eui}/config`, desired)).status === 200;
  const patchTo = await now();
  check(patched === 1000, `desired configuration set on every device (${patched})`);
  const bad = await api("PATCH", `/api/devices/${devices[0].dev_eui}/config`, { channel_mask: "00" });
  check(bad.status === 400 && /channel_mask/.test(bad.json.error), `a bad field is named (${bad.text})`);

  await simDone;
  const wall = (Date.now() - t0wall) / 1000;
  check(sim.exitCode === 0, `sim exits 0 (${simErr.slice(-400)})`);
  const sum = JSON.parse(simOut);
  // the fleet's week ends at t0 + 7 days; the server's clock runs on (S times the wall
  // clock) while this test reads, and a fleet that stopped transmitting is silent then
  const end = t0 + 7 * DAY * 1e9;

  // ---- alarms against the ground truth
  const alarms = (await allPages("/api/alarms")).filter((a) => a.raised_ns <= end);
  const scored = new Set(Object.values(KIND));
  const byKey = new Map(); // kind/subject -> faults
  for (const f of faults) {
    const k = `${KIND[f.kind]}/${f.subject}`;
    byKey.set(k, [...(byKey.get(k) ?? []), f]);
  }
  // a battery's alarm is due once its level crosses battery_raise (50 of 254)
  const due = (f) => f.kind === "battery" ? f.start + (204 / 253) * 2 * DAY * 1e9 : f.start;
  const stats = {}, falseAlarms = [];
  for (const k of scored) stats[k] = { alarms: 0, true_alarms: 0, faults: 0, detected: 0, ended: 0, cleared: 0 };
  for (const a of alarms) {
    if (!scored.has(a.kind)) continue;
    stats[a.kind].alarms++;
    const fs_ = byKey.get(`${a.kind}/${a.subject}`) ?? [];
    if (fs_.some((f) => a.raised_ns >= f.start - 600e9 && a.raised_ns <= (f.end === Infinity ? Infinity : f.end + DELAY[a.kind])))
      stats[a.kind].true_alarms++;
    else falseAlarms.push(`${a.kind} ${a.subject} raised at ${((a.raised_ns - t0) / 1e9).toFixed(0)} s` +
      ` (${a.detail ?? ""})${fs_.length ? `; its faults: ${fs_.map((f) => `${f.start_s}-${f.end_s}`)}` : ""}`);
  }
  const late = [];
  for (const f of faults) {
    const k = KIND[f.kind], st = stats[k];
    if (due(f) + DELAY[k] > end) continue; // not yet due when the run ended
    st.faults++;
    const hit = alarms.find((a) => a.kind === k && a.subject === f.subject && a.raised_ns >= f.start - 600e9 &&
                                   a.raised_ns <= due(f) + DELAY[k]);
    if (hit) st.detected++;
    else late.push(`${f.kind} ${f.subject} at ${f.start_s} s`);
    if (hit && f.end !== Infinity && f.end + DELAY[k] <= end) {
      st.ended++;
      if (hit.cleared_ns && hit.cleared_ns >= f.end && hit.cleared_ns <= f.end + 3 * H) st.cleared++;
    }
  }
  const tot = Object.values(stats).reduce((a, s) => ({ alarms: a.alarms + s.alarms, true_alarms: a.true_alarms + s.true_alarms,
    faults: a.faults + s.faults, detected: a.detected + s.detected, ended: a.ended + s.ended, cleared: a.cleared + s.cleared }),
    { alarms: 0, true_alarms: 0, faults: 0, detected: 0, ended: 0, cleared: 0 });
  const precision = tot.true_alarms / Math.max(1, tot.alarms), recall = tot.detected / Math.max(1, tot.faults);
  const others = {};
  for (const a of alarms) if (!scored.has(a.kind)) others[a.kind] = (others[a.kind] ?? 0) + 1;
  const report = { wall_s: wall, speed: SPEED, uplinks_stored: sum.live?.server?.uplinks_stored,
    late_downlinks_accepted: sum.live?.downlinks_late_accepted,
    push_data_sent: sum.live?.push_data_sent, push_acks: sum.live?.push_acks, precision: +precision.toFixed(4), recall: +recall.toFixed(4),
    by_kind: Object.fromEntries(Object.entries(stats).map(([k, s]) => [k, { ...s,
      precision: +(s.true_alarms / Math.max(1, s.alarms)).toFixed(4), recall: +(s.detected / Math.max(1, s.faults)).toFixed(4) }])),
    silences_cleared_when_ended: `${tot.cleared}/${tot.ended}`, unscored_alarms: others, missed: late.slice(0, 10),
    false_alarms: falseAlarms.slice(0, 10) };
  console.log(JSON.stringify(report));
  fs.mkdirSync(path.join(process.cwd(), "..", "artifacts"), { recursive: true });
  fs.writeFileSync(path.join(process.cwd(), "..", "artifacts", "fleet-score.json"), JSON.stringify(report, null, 1) + "\n");
  claim(precision >= 0.95, `alarm precision ${precision.toFixed(3)} >= 0.95`);
  claim(recall >= 0.95, `alarm recall ${recall.toFixed(3)} >= 0.95 (missed: ${late.slice(0, 5)})`);
  for (const [k, s] of Object.entries(stats))
    claim(s.faults > 0 && s.detected / s.faults >= 0.9 && s.true_alarms / Math.max(1, s.alarms) >= 0.9,
      `${k}: ${s.detected}/${s.faults} faults detected, ${s.true_alarms}/${s.alarms} alarms true`);
  claim(tot.ended > 0 && tot.cleared / tot.ended >= 0.95, `silences clear when they end (${tot.cleared}/${tot.ended})`);
  const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const raisedReboot = Number(/lorageo_alarms_raised_total\{kind="reboot"\} (\d+)/.exec(m)?.[1]);
  claim(raisedReboot >= stats.reboot.alarms, `/metrics counts the reboot alarms (${raisedReboot})`);

  // ---- the configuration: every device heard after it was set is in sync
  let reachable = 0, inSync = 0, offlineChecked = 0, offlineOk = 0;
  const notSynced = [];
  const silentAtPatch = new Map(faults.filter((f) => f.kind === "silent" && f.start < patchFrom && f.end > patchTo)
    .map((f) => [f.subject, f]));
  let neverHeard = 0;
  for (const d of await allPages("/api/devices")) {
    if (d.last_seen_ns === null) neverHeard++;
    if (!(d.last_seen_ns > patchTo)) continue;
    // reachable: heard on its current session (an OTAA device whose rejoin never completed
    // is not; its MAC settings went with its old session)
    const joins = (await api("GET", `/api/devices/${d.dev_eui}/events?limit=200`)).json.items.filter((e) => e.type === "join");
    if (joins.length && joins[0].time_ns > d.last_seen_ns) continue;
    reachable++;
    const c = (await api("GET", `/api/devices/${d.dev_eui}/config`)).json;
    if (c.in_sync) inSync++;
    else notSynced.push(`${d.dev_eui}: ${c.pending}`);
    const off = silentAtPatch.get(d.dev_eui);
    if (off) {
      offlineChecked++;
      const hist = (await api("GET", `/api/devices/${d.dev_eui}/config/history?limit=100`)).json.items;
      const applied = hist.filter((h) => h.action === "applied" && h.field === "uplink_interval_s");
      const sentWhileOff = hist.some((h) => h.action === "sent" && h.time_ns < off.end);
      if (c.in_sync && applied.length && applied.every((h) => h.time_ns >= off.end) && !sentWhileOff) offlineOk++;
    }
  }
  console.log(JSON.stringify({ config: { reachable, in_sync: inSync, offline_at_set: offlineChecked, offline_got_it_on_return: offlineOk } }));
  claim(reachable >= 950 && inSync === reachable, `every reachable device in sync (${inSync}/${reachable}; ${notSynced.slice(0, 5)})`);
  claim(offlineChecked >= 3 && offlineOk === offlineChecked,
    `devices off for days when it was set got it when they came back (${offlineOk}/${offlineChecked})`);
  const fleet = (await api("GET", "/api/fleet/summary")).json;
  claim(fleet.devices === 1000 && fleet.lifecycle.provisioned === neverHeard &&
        fleet.lifecycle.active + fleet.lifecycle.silent === 1000 - neverHeard,
    `the fleet summary counts the life cycle (${JSON.stringify(fleet.lifecycle)}; never heard: ${neverHeard})`);
  claim(wall < 1.3 * 7 * DAY / SPEED, `a week simulated in ${wall.toFixed(0)} s (${(7 * DAY / SPEED).toFixed(0)} s at ${SPEED}x)`);
} catch (e) {
  tally.failures++;
  console.error(`FAIL ${e.stack}`);
} finally {
  await stop().catch(() => {});
}
console.log(`${tally.checks - tally.failures}/${tally.checks} checks passed`);
process.exit(tally.failures ? 1 : 0);
