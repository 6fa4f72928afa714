// The web map in headless Chromium (Debian's chromium driven by playwright-core) against a
// server fed over UDP, then by the simulator (`lorageo sim --server`: a cyclist and two
// sensors joining through four simulated gateways): gateway and device markers appear; the
// marker is the server's filtered track, so one fix 600 m away is gated out (its raw fix
// shown with "raw fixes") and three in a row move the marker live (server-sent events);
// the header shows no reference accuracy without reference devices; the page loads nothing from a CDN; the
// device page shows its uplinks with every reception, the gateways page lists them, the
// add forms store a gateway and show why a bad device is refused.
// Usage: node web.mjs path/to/lorageo [screenshot.png]
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import {
  ABP, api, armTimeout, base, BIN, check, dataUp, dir, frameFromAll, gateways, haversine, httpPort, pull, runServerTest, server, sleep, start, stop, tally, truth, udpPort, waitHealthy,
} from "./harness.mjs";

armTimeout(120000);
const shot = process.argv[3];
let browser = null;
await runServerTest("web", async () => {
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
  // the markers and the side list come from separate requests: wait for both
  for (let i = 0; i < 50 && !(s?.devices === 1 && s.list.includes("tracker")); i++) { await sleep(100); s = await state(); }
  check(s.gateways === 4, `four gateway markers (${s.gateways})`);
  check(s.devices === 1 && haversine(s.at.lat, s.at.lng, truth.lat, truth.lon) < 10,
        `the device's marker at its position: ${JSON.stringify(s.at)}`);
  check(s.accuracy > 0 && s.accuracy < 50, `an accuracy circle (${s.accuracy} m)`);
  check(s.status === "live" && s.list.includes("tracker"), `live, device listed: ${s.status} / ${s.list.slice(0, 60)}`);

  // the device is ~600 m north-east a second later: no device moves so, so the server's
  // tracker gates the fix out and the marker stays; the raw fix is on the map on demand
  const before = s.at;
  truth.lat += 0.004;
  truth.lon += 0.005;
  const rawEnd = () => page.evaluate(() => {
    const r = [...window.lorageo.devices.values()][0].raw.getLatLngs();
    return { n: r.length, first: r[0] };
  });
  await frameFromAll(dataUp(2, "moved"));
  let r = null;
  for (let i = 0; i < 150 && !(r?.n === 2); i++) { await sleep(100); r = await rawEnd(); }
  s = await state();
  check(r.n === 2 && haversine(r.first.lat, r.first.lng, truth.lat, truth.lon) < 10, "the raw fix is at the new place");
  check(haversine(s.at.lat, s.at.lng, before.lat, before.lng) < 10, "one outlying fix leaves the filtered marker where it was");
  check(!(await page.evaluate(() => window.lorageo.map.hasLayer(window.lorageo.rawLayer))), "raw fixes hidden by default");
  await page.check("#raw");
  check(await page.evaluate(() => window.lorageo.map.hasLayer(window.lorageo.rawLayer)), "and shown on demand");
  check((await page.textContent("#accuracy")) === "", "no reference devices: no accuracy claimed");
  // two more fixes there: it really is there now, and the marker follows live
  await frameFromAll(dataUp(3, "moved"));
  await frameFromAll(dataUp(4, "moved"));
  for (let i = 0; i < 150; i++) { /* up to 15 s: a sanitizer build on a loaded machine */
    await sleep(100);
    s = await state();
    if (haversine(s.at.lat, s.at.lng, before.lat, before.lng) > 100) break;
  }
  check(haversine(s.at.lat, s.at.lng, truth.lat, truth.lon) < 10,
        `three fixes in a row moved the marker live to the new position (${haversine(s.at.lat, s.at.lng, truth.lat, truth.lon).toFixed(1)} m off)`);
  let m = await api("GET", "/api/map");
  check(m.json.devices.length === 1 && m.json.last_id > 0, `/api/map: ${m.text.slice(0, 100)}`);
  const lastId = m.json.last_id;
  m = await api("GET", `/api/map?since=${lastId}`);
  check(m.status === 200 && m.json.devices.length === 0, "nothing located since the last id: no devices");
  m = await api("GET", `/api/map?since=${lastId - 1}`);
  check(m.json.devices.length === 1 && m.json.devices[0].track.length === 4 && m.json.devices[0].raw.length === 4,
        "since the one before: the device, whole track and raw fixes");
  m = await api("GET", "/api/map?since=soon");
  check(m.status === 400 && m.json.error.includes("since"), "a bad since -> 400");
  const track = await page.evaluate(() => [...window.lorageo.devices.values()][0].track.getLatLngs().length);
  check(track === 4, `the track has every position (${track})`);
  const foreign = requests.filter((u) => !u.startsWith(base) && !u.includes("tile.openstreetmap.org"));
  check(foreign.length === 0, `no request leaves the server but map tiles: ${foreign}`);
  check(errors.length === 0, `no script errors: ${errors}`);
  if (shot) await page.screenshot({ path: shot });

  // ---- the pages: one device with its receptions, gateways, the add forms
  await page.goto(`${base}/#/device/${ABP.dev_eui}`);
  await page.waitForSelector(".uplink .rx", { timeout: 5000 });
  const rx = await page.$$eval(".uplink", (u) => u.map((x) => x.querySelectorAll(".rx").length));
  const text = await page.textContent("#list");
  check(rx.length === 4 && rx.every((n) => n === 4) && text.includes("DR5") && text.includes(ABP.dev_addr),
        `device page: 4 uplinks with 4 receptions each, DR, DevAddr (${rx}) ${text.slice(0, 120)}`);
  await page.goto(`${base}/#/gateways`);
  await page.waitForSelector(".gw", { timeout: 5000 });
  check((await page.$$(".gw")).length === 4, "gateways page lists four");
  await page.goto(`${base}/#/add`);
  await page.waitForSelector("#add-gateway");
  await page.fill("#add-gateway input[name=gateway_eui]", "aa555a00000000ff");
  await page.fill("#add-gateway input[name=latitude]", "55.79");
  await page.fill("#add-gateway input[name=longitude]", "12.47");
  await page.click("#add-gateway button");
  await page.waitForFunction(() => document.querySelector("#add-gateway .result").textContent !== "");
  check(await page.textContent("#add-gateway .result") === "added", "a gateway added from the form");
  check((await api("GET", "/api/gateways/aa555a00000000ff")).json?.latitude === 55.79, "and stored");
  await page.fill("#add-device input[name=dev_eui]", "xyz");
  await page.click("#add-device button");
  await page.waitForFunction(() => document.querySelector("#add-device .result").textContent !== "");
  check((await page.textContent("#add-device .result")).startsWith("refused: dev_eui"), "a bad device refused with the reason shown");
  await page.goto(`${base}/#/device/${ABP.dev_eui}`);
  await page.waitForSelector(".uplink .rx", { timeout: 5000 });
  if (shot) await page.screenshot({ path: shot.replace(/\.png$/, "-device.png") });

  // ---- fed by the simulator: a cyclist and two sensors join through four more gateways
  await page.goto(base + "/");
  await sleep(500);
  const scn = path.join(dir, "web-fleet.json");
  fs.writeFileSync(scn, JSON.stringify({
    region: "EU868", seed: 31, duration_s: 50, origin: { lat: 55.7819, lon: 12.5106 },
    gateways: [{ east_m: -1500, north_m: -1500 }, { east_m: 1500, north_m: -1500 }, { east_m: 1500, north_m: 1500 },
               { east_m: -1500, north_m: 1500 }],
    groups: [
      { name: "cyclist", count: 1, activation: "otaa", dr: 5, payload_bytes: 6, traffic: { kind: "periodic", period_s: 4 },
        placement: { kind: "points", points: [{ east_m: -600, north_m: 0 }] },
        mobility: { kind: "square", speed_mps: 30, bounds: { east_m: [-600, 600], north_m: [-400, 400] } } },
      { name: "sensor", count: 2, activation: "abp", dr: 5, payload_bytes: 6, traffic: { kind: "periodic", period_s: 6 },
        placement: { kind: "disc", radius_m: 500 } }],
    channel: { path_loss: { sigma_db: 1 } }, duty_cycle: false }));
  const sim = spawn(BIN, ["sim", scn, "--server", `127.0.0.1:${udpPort}`, "--api", `http://127.0.0.1:${httpPort}`,
    "--speed", "2", "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
  let simErr = "";
  sim.stderr.on("data", (d) => (simErr += d));
  const simDone = new Promise((r) => sim.on("exit", r));
  const cyclist = (0x70b3d5e71f000000n).toString(16);
  const cyclistAt = () => page.evaluate((eui) => {
    const d = window.lorageo.devices.get(eui);
    return d ? d.marker.getLatLng() : null;
  }, cyclist);
  let first = null;
  for (let i = 0; i < 200 && !first; i++) { await sleep(100); first = await cyclistAt(); }
  check(first !== null, "the simulated cyclist's marker appears once it has joined and been located");
  let moved = 0;
  for (let i = 0; i < 200 && moved < 100; i++) {
    await sleep(100);
    const at = await cyclistAt();
    if (at && first) moved = haversine(at.lat, at.lng, first.lat, first.lng);
  }
  check(moved >= 100, `the cyclist's marker moves live as it rides (${moved.toFixed(0)} m)`);
  check(await simDone === 0, `lorageo sim exits 0 ${simErr}`);
  await sleep(300);
  const fleet = await page.evaluate(() => ({ gateways: window.lorageo.gatewayLayer.getLayers().length,
    devices: [...window.lorageo.devices.keys()] }));
  check(fleet.gateways >= 8 && fleet.devices.filter((k) => k.startsWith("70b3d5e71f")).length === 3,
        `the simulated gateways and all three devices are on the map (${fleet.gateways} gateways, ${fleet.devices})`);
  if (shot) await page.screenshot({ path: shot.replace(/\.png$/, "-fleet.png") });
  await page.goto(`${base}/#/device/${cyclist}`);
  await page.waitForSelector(".uplink .rx", { timeout: 5000 });
  const simRx = await page.$$eval(".uplink", (u) => u.map((x) => x.querySelectorAll(".rx").length));
  const apiRx = (await api("GET", `/api/devices/${cyclist}/uplinks?limit=${simRx.length}`)).json.items.map((u) => u.rx_info.length);
  check(simRx.length >= 3 && simRx.join() === apiRx.join() && simRx.some((n) => n >= 3),
        `the cyclist's page shows its uplinks with every reception (${simRx} vs the API's ${apiRx})`);
}, async () => {
  await browser?.close();
  for (const g of gateways) g.sock.close();
});
