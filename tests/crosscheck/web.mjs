// The web map in headless Chromium (Debian's chromium driven by playwright-core) against a
// server fed over UDP: gateway and device markers appear, a new uplink from elsewhere moves
// the device's marker live (server-sent events), the page loads nothing from a CDN.
// Usage: node web.mjs path/to/lorageo [screenshot.png]
import { chromium } from "playwright-core";
import {
  ABP, api, armTimeout, base, check, dataUp, frameFromAll, gateways, haversine, pull, server,
  sleep, start, stop, tally, truth, waitHealthy,
} from "./harness.mjs";

armTimeout(60000);
const shot = process.argv[3];
let browser = null;
try {
  start();
  await waitHealthy();
  for (const g of gateways)
    await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check((await api("POST", "/api/devices", { ...ABP, name: "tracker" })).status === 201, "device provisioned");
  for (const g of gateways) await pull(g);
  await frameFromAll(dataUp(1, "here"));
  await sleep(400);

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/");
  const state = () => page.evaluate(() => {
    const d = [...window.lorageo.devices.values()][0];
    return { gateways: window.lorageo.gatewayLayer.getLayers().length, devices: window.lorageo.devices.size,
             at: d ? d.marker.getLatLng() : null, accuracy: d ? d.circle.getRadius() : null,
             status: document.getElementById("status").textContent, list: document.getElementById("list").textContent };
  });
  let s = null;
  for (let i = 0; i < 50 && !(s?.devices === 1); i++) { await sleep(100); s = await state(); }
  check(s.gateways === 4, `four gateway markers (${s.gateways})`);
  check(s.devices === 1 && haversine(s.at.lat, s.at.lng, truth.lat, truth.lon) < 10,
        `the device's marker at its position: ${JSON.stringify(s.at)}`);
  check(s.accuracy > 0 && s.accuracy < 50, `an accuracy circle (${s.accuracy} m)`);
  check(s.status === "live" && s.list.includes("tracker"), `live, device listed: ${s.status} / ${s.list.slice(0, 60)}`);

  // the device moves ~600 m north-east; its next uplink moves the marker without a reload
  const before = s.at;
  truth.lat += 0.004;
  truth.lon += 0.005;
  await frameFromAll(dataUp(2, "moved"));
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    s = await state();
    if (haversine(s.at.lat, s.at.lng, before.lat, before.lng) > 100) break;
  }
  check(haversine(s.at.lat, s.at.lng, truth.lat, truth.lon) < 10,
        `the marker moved live to the new position (${haversine(s.at.lat, s.at.lng, truth.lat, truth.lon).toFixed(1)} m off)`);
  const track = await page.evaluate(() => [...window.lorageo.devices.values()][0].track.getLatLngs().length);
  check(track === 2, `the track has both positions (${track})`);
  const foreign = requests.filter((u) => !u.startsWith(base) && !u.includes("tile.openstreetmap.org"));
  check(foreign.length === 0, `no request leaves the server but map tiles: ${foreign}`);
  check(errors.length === 0, `no script errors: ${errors}`);
  if (shot) await page.screenshot({ path: shot });
} catch (e) {
  tally.failures++;
  console.error(`FAIL ${e.stack}`);
} finally {
  await browser?.close();
  if (server && server.exitCode === null) await stop();
  for (const g of gateways) g.sock.close();
}
console.log(`web: ${tally.checks} checks, ${tally.failures} failed`);
if (tally.failures) {
  console.error(server?.log ?? "");
  process.exit(1);
}
