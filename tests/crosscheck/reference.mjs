// Reference devices end to end (issue 14): a simulated fleet through the real UDP path,
// three of its devices marked "reference" (provisioned so by the simulator through the
// API) sending their own GPS position as Cayenne LPP. The server decodes it as each
// uplink's truth, measures every method against it (/api/geo/accuracy, /metrics), learns
// from it, keeps a filtered track per device; after a restart what it learned is still
// there. The other devices' locations carry the filtered track too.
// Usage: node reference.mjs path/to/lorageo
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { api, armTimeout, BIN, check, dir, runServerTest, httpPort, start, stop, udpPort, waitHealthy } from "./harness.mjs";

armTimeout(150000);
const scenario = path.join(dir, "reference.json");
fs.writeFileSync(scenario, JSON.stringify({
  region: "EU868", seed: 9, duration_s: 60,
  origin: { lat: 55.7819, lon: 12.5106 },
  gateways: [0, 1, 2, 3, 4, 5].map((k) => ({
    east_m: Math.round(2500 * Math.cos(k * Math.PI / 3)), north_m: Math.round(2500 * Math.sin(k * Math.PI / 3)),
    timing: { noise_ns: 20, quantum_ns: 1 } })),
  groups: [
    { name: "ref", count: 3, activation: "abp", dr: 5, reference: true,
      traffic: { kind: "periodic", period_s: 3 }, placement: { kind: "disc", radius_m: 1200 },
      mobility: { kind: "waypoint", speed_mps: 3, bounds: { east_m: [-1200, 1200], north_m: [-1200, 1200] } } },
    { name: "plain", count: 2, activation: "abp", dr: 5, payload_bytes: 4,
      traffic: { kind: "periodic", period_s: 4 }, placement: { kind: "disc", radius_m: 1000 } },
  ],
  channel: { path_loss: { sigma_db: 3 } },
  duty_cycle: false,
}));
const out = path.join(dir, "sim-out");
await runServerTest("reference", async () => {
  start({ LORAGEO_GEO_SIGMA_NS: "20" });
  await waitHealthy();
  const before = (await api("GET", "/api/geo/accuracy")).json;
  check(before.reference_frames === 0 && Object.keys(before.methods).length === 0, "no reference frames yet");
  const sim = spawnSync(BIN, ["sim", scenario, "--server", `127.0.0.1:${udpPort}`, "--api", `http://127.0.0.1:${httpPort}`,
    "--speed", process.env.LORAGEO_TEST_SPEED ?? "3", "--out", out, "--quiet"], { encoding: "utf8", timeout: 120000 });
  check(sim.status === 0, `sim exits 0 (${sim.stderr})`);
  const devs = fs.readFileSync(path.join(out, "devices.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(",")[1]);
  const ref = devs.slice(0, 3), plain = devs.slice(3);

  const d0 = (await api("GET", `/api/devices/${ref[0]}`)).json;
  check(d0.reference === true, "the simulator provisioned its reference devices as such");
  check((await api("GET", `/api/devices/${plain[0]}`)).json.reference === false, "the others are not");
  const ups = (await api("GET", `/api/devices/${ref[0]}/uplinks?limit=100`)).json.items;
  const withTruth = ups.filter((u) => u.truth);
  check(ups.length > 5 && withTruth.length === ups.length, `every reference uplink has its truth (${withTruth.length}/${ups.length})`);
  const t = withTruth[0].truth;
  check(Math.abs(t.latitude - 55.7819) < 0.03 && Math.abs(t.longitude - 12.5106) < 0.05, `the truth is where the fleet is (${t.latitude}, ${t.longitude})`);
  check((await api("GET", `/api/devices/${plain[0]}/uplinks?limit=5`)).json.items.every((u) => !u.truth), "no truth for the others");

  const acc = (await api("GET", "/api/geo/accuracy")).json;
  console.log(JSON.stringify(acc));
  check(acc.reference_frames >= 40, `reference frames counted (${acc.reference_frames})`);
  const auto = acc.methods.auto, nls = acc.methods.nls, cen = acc.methods.centroid;
  check(auto && auto.frames >= 40 && auto.median_m > 0 && auto.median_m < 30 && auto.p90_m >= auto.median_m,
    `live accuracy of what the server reports (${JSON.stringify(auto)})`);
  check(nls && cen && cen.median_m > 5 * nls.median_m, "the baselines are measured in the same frames and lose");
  check(acc.methods.fingerprint && acc.methods.fingerprint.frames > 0, "a radio map learned from the reference frames locates too");
  const metrics = (await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text());
  const m = /lorageo_reference_error_m\{method="auto",quantile="0.5"\} ([0-9.]+)/.exec(metrics);
  check(m && Math.abs(Number(m[1]) - auto.median_m) < 0.2, "the same figure in /metrics");
  check(/lorageo_reference_frames_total [1-9]/.test(metrics), "reference frames in /metrics");

  // ADR's link map learns from them too (their own positions; no device here runs predictive)
  const cells = Number(/lorageo_adr_link_cells ([0-9]+)/.exec(metrics)?.[1] ?? NaN);
  const gws = (await api("GET", "/api/gateways?limit=100")).json.items.map((g) => g.gateway_eui);
  const links = await Promise.all(gws.map(async (g) => (await api("GET", `/api/gateways/${g}/links`)).json));
  const all = links.flatMap((l) => l.items);
  const east = (c) => (c.longitude - 12.5106) * 111320 * Math.cos(55.7819 * Math.PI / 180), north = (c) => (c.latitude - 55.7819) * 110574;
  check(cells > 0 && all.length === cells && all.every((c) => Math.abs(east(c)) < 1500 && Math.abs(north(c)) < 1500 && c.heard + c.missed > 0),
        `the link map learned from the reference devices where they went (${cells} links over ${gws.length} gateways)`);
  console.log(`reference: the link map learned ${cells} (gateway, cell) links, ${all.filter((c) => c.level_db !== null).length} with a level`);
  check(all.some((c) => c.level_db !== null && c.level_db < -60 && c.level_db > -160),
        `cells with enough uplinks have a level (${JSON.stringify(all.find((c) => c.level_db !== null))})`);

  // the filtered track: on every location of a moving device, gated fixes named
  const locs = (await api("GET", `/api/devices/${ref[1]}/locations?limit=50`)).json.items;
  check(locs.length > 5 && locs.every((l) => l.track && l.track.accuracy_m > 0), "every location carries the filtered track");
  check(locs.every((l) => l.accuracy_95_m >= l.accuracy_m), "and its 95 % radius");
  const map = (await api("GET", "/api/map")).json;
  const md = map.devices.find((d) => d.dev_eui === ref[1]);
  check(md && md.latest.filtered === true && md.raw.length === md.track.length, "the map has the track and the raw fixes");

  // a restart keeps what was learned
  await stop();
  check(fs.existsSync(path.join(dir, "learned.geo.json")) && fs.existsSync(path.join(dir, "learned.geo.json.radiomap.json")),
    "what was learned is written on a clean stop");
  start({ LORAGEO_GEO_SIGMA_NS: "20" });
  await waitHealthy();
  const again = (await api("GET", "/api/geo/accuracy")).json;
  check(again.reference_frames === acc.reference_frames, `the reference frames survive a restart (${again.reference_frames})`);
  const cellsAgain = Number(/lorageo_adr_link_cells ([0-9]+)/.exec(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text())?.[1]);
  check(cellsAgain === cells, `and so does the link map (${cellsAgain} of ${cells})`);
  await stop();
  // a learned file that is not one stops the server with its reason
  fs.writeFileSync(path.join(dir, "learned.geo.json"), "{\"live\": 3}");
  start({ LORAGEO_GEO_SIGMA_NS: "20" });
  const code = await new Promise((r) => { const s = setTimeout(() => r(null), 5000); import("./harness.mjs").then((h) => h.server.on("exit", (c) => { clearTimeout(s); r(c); })); });
  check(code !== 0 && code !== null, "a broken learned file is refused at start");
});
