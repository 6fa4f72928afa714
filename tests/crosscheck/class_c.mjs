// Class C and multicast end to end: `lorageo sim --server` plays Class C devices (OTAA and
// ABP) whose devices listen on RX2 between their uplinks, and one multicast group of them.
// While the fleet runs, downlinks are queued through the API as a user would: one per
// Class C device (sent at once, not in a receive window) and two group frames. Every
// device takes its own, every member takes each group frame once, the server says how it
// sent them (/metrics), and bad multicast requests are refused with a reason.
// With "station" as the second argument the gateways are LoRa Basics Stations (sim --station,
// a token each): Class C and group frames go out as dnmsg "dC": 2.
// Usage: node class_c.mjs path/to/lorageo [station]
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { api, armTimeout, BIN, check, dir, httpPort, metric, sleep, start, stop, tally, udpPort, waitHealthy } from "./harness.mjs";

armTimeout(150000);
const viaStation = process.argv[3] === "station";
const stationPort = udpPort + 2, TOKEN = "class-c-station-token-0123";
const MC = { mc_addr: "fc00ab01", mc_nwk_s_key: "2b7e151628aed2a6abf7158809cf4f3c",
             mc_app_s_key: "3c4fcf098815f7aba6d2ae2816157e2b" };
const scenario = path.join(dir, "classc.json");
fs.writeFileSync(scenario, JSON.stringify({
  region: "EU868", seed: 11, duration_s: 75,
  origin: { lat: 55.7819, lon: 12.5106 },
  gateways: [{ east_m: -1500, north_m: -1500 }, { east_m: 1500, north_m: -1500 },
             { east_m: 1500, north_m: 1500 }, { east_m: -1500, north_m: 1500 }],
  groups: [
    { name: "meters", count: 4, activation: "otaa", class: "C", dr: 5, payload_bytes: 8,
      traffic: { kind: "periodic", period_s: 10, jitter_s: 2 }, placement: { kind: "disc", radius_m: 1200 },
      multicast: MC },
    { name: "lamps", count: 2, activation: "abp", class: "C", dr: 5, payload_bytes: 4,
      traffic: { kind: "periodic", period_s: 12, jitter_s: 2 }, placement: { kind: "disc", radius_m: 800 } },
    { name: "sensors", count: 2, activation: "abp", dr: 5, payload_bytes: 4,
      traffic: { kind: "periodic", period_s: 12 }, placement: { kind: "disc", radius_m: 800 } },
  ],
  channel: { path_loss: { sigma_db: 2 } },
  duty_cycle: false,
}));
const out = path.join(dir, "sim-out");
try {
  start(viaStation ? { LORAGEO_BASICSTATION_BIND: `127.0.0.1:${stationPort}` } : {});
  await waitHealthy();
  const speed = process.env.LORAGEO_TEST_SPEED ?? "3";
  const gateways = viaStation ? ["--station", `ws://127.0.0.1:${stationPort}`, "--station-token", TOKEN]
                              : ["--server", `127.0.0.1:${udpPort}`];
  const sim = spawn(BIN, ["sim", scenario, ...gateways, "--api", `http://127.0.0.1:${httpPort}`,
    "--speed", speed, "--out", out, "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  sim.stdout.on("data", (d) => (stdout += d));
  sim.stderr.on("data", (d) => (stderr += d));
  const ended = new Promise((r) => sim.on("exit", r));

  // the fleet is provisioned by the simulator: wait for its multicast group and members
  let group = null;
  for (let i = 0; i < 200 && !(group?.devices?.length === 4); i++) {
    await sleep(100);
    const g = (await api("GET", "/api/multicast-groups")).json?.items?.find((x) => x.name === "meters");
    if (g) group = (await api("GET", `/api/multicast-groups/${g.id}`)).json;
  }
  check(group?.devices?.length === 4 && group.mc_addr === MC.mc_addr && group.f_cnt === 0,
    `the simulator provisioned the group with its 4 members (${JSON.stringify(group)})`);
  check(group && !("mc_app_s_key" in group) && !("mc_nwk_s_key" in group), "a group's keys are never shown");
  const devs = fs.readFileSync(path.join(out, "devices.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
  const classC = devs.filter((d) => d[2] !== "sensors").map((d) => d[1]);
  const dev0 = (await api("GET", `/api/devices/${classC[0]}`)).json;
  check(dev0.class === "C", `a Class C device says so (${dev0.class})`);
  check((await api("GET", `/api/devices/${devs.find((d) => d[2] === "sensors")[1]}`)).json.class === "A",
    "a device without a class is Class A");

  // bad requests: refused with a reason, nothing queued
  const bad = [
    [{ ...MC, mc_addr: "xyz" }, /mc_addr/], [{ ...MC, mc_app_s_key: "00" }, /mc_app_s_key/],
    [{ ...MC, dr: 12 }, /dr/], [{ ...MC, frequency: 100000000 }, /frequency/], [{ ...MC, colour: "red" }, /unknown field/],
  ];
  for (const [body, why] of bad) {
    const r = await api("POST", "/api/multicast-groups", body);
    check(r.status === 400 && why.test(r.json?.error), `POST group ${JSON.stringify(body).slice(0, 60)} -> 400 ${r.json?.error}`);
  }
  if (group) {
    const r = await api("POST", `/api/multicast-groups/${group.id}/queue`, { f_port: 5, data: "AQI=", confirmed: true });
    check(r.status === 400 && /acknowledged/.test(r.json?.error), `a confirmed group downlink is refused (${r.json?.error})`);
  }
  check((await api("POST", "/api/multicast-groups/999/queue", { f_port: 5, data: "AQI=" })).status === 404, "an unknown group is 404");
  check((await api("POST", "/api/devices", { dev_eui: "0101010101010101", dev_addr: "01020304",
    nwk_s_key: MC.mc_nwk_s_key, app_s_key: MC.mc_app_s_key, class: "B" })).status === 400, "class B is refused");

  // every Class C device heard at least once (its gateways known), then its downlink
  for (let i = 0; i < 300; i++) {
    let heard = 0;
    for (const eui of classC) heard += (await api("GET", `/api/devices/${eui}/uplinks?limit=1`)).json.items.length;
    if (heard === classC.length) break;
    await sleep(100);
  }
  for (const eui of classC)
    check((await api("POST", `/api/devices/${eui}/queue`, { f_port: 3, data: "3q2+7w==" })).status === 202, `queued for ${eui}`);
  for (let k = 0; k < 2 && group; k++) {
    check((await api("POST", `/api/multicast-groups/${group.id}/queue`, { f_port: 200, data: Buffer.from(`fw-chunk-${k}`).toString("base64") })).status === 202,
      `group frame ${k} queued`);
    await sleep(1500);
  }
  await ended;
  check(sim.exitCode === 0, `sim exits 0 (${stderr})`);
  const live = JSON.parse(stdout).live;
  check(live.multicast_received === 4 * 2, `every member took each group frame once (${live.multicast_received} of 8)`);
  check(live.downlinks_bad_mic === 0, `no downlink failed its MIC (${JSON.stringify(live)})`);

  const cC = await metric("lorageo_class_c_downlinks_total");
  // a device that sent an uplink just then takes its item in that uplink's RX1 (Class A)
  check(live.app_downlinks === classC.length, `each Class C device took its downlink (${live.app_downlinks} of ${classC.length})`);
  check(cC >= classC.length - 2 && live.class_c_downlinks === cC,
    `${cC} sent at once by the server, ${live.class_c_downlinks} taken outside a Class A window`);
  const mcd = await metric("lorageo_multicast_downlinks_total"), mct = await metric("lorageo_multicast_transmissions_total");
  check(mcd === 2 && mct >= 2 && mct <= 8, `2 group frames, ${mct} transmissions (1..4 gateways each)`);
  if (viaStation) // join-accepts, each device's item, each group transmission: all as dnmsg
    check(live.station?.dnmsg >= 4 + classC.length + mct && live.station?.dntxed === live.station?.dnmsg,
      `every downlink went as a station's dnmsg, confirmed by dntxed (${JSON.stringify(live.station)})`);
  const after = (await api("GET", `/api/multicast-groups/${group.id}`)).json;
  check(after.f_cnt === 2, `the group's counter moved by 2 (${after.f_cnt})`);
  check((await api("DELETE", `/api/multicast-groups/${group.id}/devices/${classC[0]}`)).json.devices.length === 3, "a member removed");
  check((await api("DELETE", `/api/multicast-groups/${group.id}`)).status === 200, "the group deleted");
  check((await api("GET", `/api/multicast-groups/${group.id}`)).status === 404, "and gone");
} finally {
  await stop();
}
console.log(`class_c${viaStation ? " (Basics Station)" : ""}: ${tally.checks} checks, ${tally.failures} failures`);
process.exit(tally.failures ? 1 : 0);
