// The live server learns the reflections its fixes show (issue 14, geo/nlos.c): the thesis
// site's four fine-timestamp gateways (10 ns of jitter, 5 % of receptions late by an
// exponential delay of mean 300 ns) hear 60 static devices through the real UDP path; the
// server measures the timing noise (configured 5 ns by the harness), learns the share of
// late receptions and their mean delay from its own nls fixes, shows them in
// GET /api/geo/accuracy, and keeps them across a restart.
// Usage: node reflections.mjs path/to/lorageo
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { api, armTimeout, BIN, check, dir, runServerTest, httpPort, metric, sleep, start, stop, udpPort, waitHealthy } from "./harness.mjs";

armTimeout(240000);
const site = JSON.parse(fs.readFileSync(new URL("../../scenarios/thesis-dtu.json", import.meta.url), "utf8"));
const scenario = path.join(dir, "reflections.json");
fs.writeFileSync(scenario, JSON.stringify({
  region: "EU868", seed: 14, duration_s: 1800, origin: site.origin,
  gateways: site.gateways,
  groups: [{ name: "meters", count: 60, activation: "abp", dr: 5, payload_bytes: 11,
             traffic: { kind: "periodic", period_s: 30, jitter_s: 10 },
             placement: { kind: "disc", radius_m: 1500 } }],
  channel: site.channel, // nlos: probability 0.05, mean_delay_ns 300
  duty_cycle: false,
}));
await runServerTest("reflections", async () => {
  check(site.channel?.nlos?.probability === 0.05 && site.channel.nlos.mean_delay_ns === 300,
    "the site's reflections: 5 % of receptions, 300 ns");
  start();
  await waitHealthy();
  const sim = spawnSync(BIN, ["sim", scenario, "--server", `127.0.0.1:${udpPort}`, "--api", `http://127.0.0.1:${httpPort}`,
    "--speed", "60", "--downlink-grace-ms", "5000", "--quiet"], { encoding: "utf8", timeout: 120000 });
  check(sim.status === 0, `sim exits 0 (${sim.stderr})`);
  // the server may still be locating the last uplinks: read once the count stands still
  let located = -1;
  for (let i = 0; i < 100; i++) {
    const now = await metric('lorageo_locations_total{method="nls"}');
    if (now === located) break;
    located = now;
    await sleep(300);
  }
  check(located > 2000, `the uplinks located (${located})`);
  const acc = (await api("GET", "/api/geo/accuracy")).json;
  console.log(`learned: ${JSON.stringify(acc)}`);
  const sigma = 5 * acc.timing_noise_factor;
  check(sigma > 7 && sigma < 25, `the timing noise measured (${sigma.toFixed(1)} ns, 10 ns of jitter made)`);
  check(acc.nlos_share > 0.025 && acc.nlos_share < 0.1, `the share of late receptions learned (${acc.nlos_share}, 0.05 made)`);
  check(acc.nlos_delay_ns > 150 && acc.nlos_delay_ns < 600, `their mean delay learned (${acc.nlos_delay_ns} ns, 300 made)`);
  await stop();
  start();
  await waitHealthy();
  const again = (await api("GET", "/api/geo/accuracy")).json;
  check(again.nlos_share === acc.nlos_share && again.nlos_delay_ns === acc.nlos_delay_ns,
    `a restart keeps them (${again.nlos_share}, ${again.nlos_delay_ns} ns)`);
});
