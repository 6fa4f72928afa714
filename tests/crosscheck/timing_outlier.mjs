// Receptions whose timing the rest of the frame contradicts (issue 16 item 2), end to end:
// five gateways hear each frame; one of them forges its timestamp 10 us late (3 km of
// path), then another 10 us early. The forged reception is flagged on the stored uplink
// ("timing_outlier": true in rx_info), named in the location, counted in
// lorageo_timing_outliers_total, and kept out of the fix: the position stays within its
// own accuracy of the truth. An honest frame flags nothing.
// Usage: node timing_outlier.mjs path/to/lorageo
import dgram from "node:dgram";
import {
  ABP, api, armTimeout, check, dataUp, frameFromAll, gateways, haversine, metric, pull, runServerTest, sleep, start, stop, tally, truth, waitHealthy,
} from "./harness.mjs";

armTimeout(60000);
const g5 = { eui: "aa555a0000000005", lat: 55.7700, lon: 12.4720, alt: 30, sock: dgram.createSocket("udp4"), inbox: [] };
g5.sock.on("message", (m) => g5.inbox.push(m));
gateways.push(g5);
const last = async (fcnt) => {
  const up = (await api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=5`)).json.items.find((u) => u.f_cnt === fcnt);
  const loc = (await api("GET", `/api/devices/${ABP.dev_eui}/locations?limit=5`)).json.items.find((l) => l.f_cnt === fcnt);
  return { up, loc };
};
await runServerTest("timing_outlier", async () => {
  start();
  await waitHealthy();
  for (const g of gateways)
    await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check((await api("POST", "/api/devices", ABP)).status === 201, "device provisioned");
  for (const g of gateways) await pull(g);

  await frameFromAll(dataUp(1, "honest"));
  await sleep(800);
  let { up, loc } = await last(1);
  check(up && up.rx_info.length >= 5 && up.rx_info.every((r) => r.timing_outlier === false),
    `an honest frame flags no reception (${up?.rx_info.map((r) => r.timing_outlier)})`);
  check(loc && haversine(loc.latitude, loc.longitude, truth.lat, truth.lon) <= Math.max(loc.accuracy_m, 1),
    `an honest frame is located within its accuracy (${loc && haversine(loc.latitude, loc.longitude, truth.lat, truth.lon).toFixed(2)} m)`);
  check(await metric("lorageo_timing_outliers_total") === 0, "no timing outlier counted");

  for (const [k, fcnt, delay, what] of [[2, 2, 10000, "10 us late"], [0, 3, -10000, "10 us early"]]) {
    const forger = gateways[k];
    await frameFromAll(dataUp(fcnt, "forged"), gateways, { delay: { [forger.eui]: delay } });
    await sleep(800);
    ({ up, loc } = await last(fcnt));
    const flagged = up?.rx_info.filter((r) => r.timing_outlier).map((r) => r.gateway_eui);
    check(flagged && flagged.length >= 1 && flagged.every((e) => e === forger.eui),
      `${what}: gateway ${forger.eui}'s reception is flagged timing_outlier (${flagged})`);
    const err = loc ? haversine(loc.latitude, loc.longitude, truth.lat, truth.lon) : NaN;
    check(loc && err <= Math.max(loc.accuracy_m, 1),
      `${what}: the fix stays within its accuracy of the truth (${err.toFixed(2)} m, accuracy ${loc?.accuracy_m?.toFixed(2)} m)`);
    check(loc && loc.gateways === 4, `${what}: the fix used the 4 honest gateways (${loc?.gateways})`);
  }
  check(await metric("lorageo_timing_outliers_total") === 2, "both forgeries counted in lorageo_timing_outliers_total");
}, async () => {
  for (const g of gateways) g.sock.close();
});
