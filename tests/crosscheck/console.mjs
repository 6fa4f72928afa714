// The operator's console (issue 18 item 6) in headless Chromium (Debian's chromium driven by
// playwright-core) against a real server with [api] token set: logging in with a good and a
// bad key; an application's key sees only its devices; a read-only key gets no edit
// controls and a write forced anyway shows the server's 403; devices searched and paged
// (120 provisioned through the API); a device, a gateway, a profile and an application
// added, edited and deleted through the forms and checked through the API; a downlink queued
// (hex, and an object through the profile's codec) and found in GET .../queue; the live
// frame log shows an uplink sent here, its downlink and a refused frame within seconds; a
// gateway that stops sending turns offline ([api] gateway_online_s = 15) while one that keeps
// sending stays online; the map centres on the opened device.
// Usage: node console.mjs path/to/lorageo [screenshot.png]
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import {
  ABP, armTimeout, as, base, check, dataUp, dir, frameFromAll, gateways, haversine, pull, runServerTest, server, sleep, start, stop, tally, waitHealthy,
} from "./harness.mjs";

armTimeout(240000);
const shot = process.argv[3];
const TOKEN = "console-admin-token-0123456789";
const adm = (m, u, b) => as(TOKEN, m, u, b);
const hex = (n, w) => n.toString(16).padStart(w, "0");
let browser = null;
await runServerTest("console", async () => {
  const codecs = path.join(dir, "codecs");
  fs.mkdirSync(codecs);
  fs.writeFileSync(path.join(codecs, "valve.js"), "function decodeUplink(input) { return { data: {} }; }\n" +
    "function encodeDownlink(input) { return { bytes: [input.data.open ? 1 : 0, input.data.minutes & 255], fPort: 9 }; }\n");
  start({ LORAGEO_API_TOKEN: TOKEN, LORAGEO_API_GATEWAY_ONLINE_S: "15", LORAGEO_CODEC_DIR: codecs });
  await waitHealthy();
  for (const g of gateways)
    await adm("POST", "/api/gateways", { gateway_eui: g.eui, name: `gw-${g.eui.slice(-1)}`, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  const appB = (await adm("POST", "/api/applications", { name: "fleet-b" })).json;
  check(appB?.id > 1, "application fleet-b made");
  // 120 devices through the API (and three in fleet-b), then the ABP device that will send
  for (let i = 0; i < 120; i++)
    await adm("POST", "/api/devices", { dev_eui: `00000000000a${hex(i, 4)}`, name: `sensor-${String(i).padStart(3, "0")}`,
      join_eui: "0000000000000001", app_key: "00112233445566778899aabbccddeeff" });
  for (let i = 0; i < 3; i++)
    await adm("POST", "/api/devices", { dev_eui: `00000000000b${hex(i, 4)}`, name: `b-meter-${i}`, application_id: appB.id,
      join_eui: "0000000000000001", app_key: "00112233445566778899aabbccddeeff" });
  check((await adm("POST", "/api/devices", { ...ABP, name: "tracker" })).status === 201, "the ABP tracker provisioned");
  const appKey = (await adm("POST", "/api/api-keys", { name: "fleet-b ops", application_id: appB.id })).json.key;
  const roKey = (await adm("POST", "/api/api-keys", { name: "watcher", read_only: true })).json.key;
  check(/^lgk_/.test(appKey) && /^lgk_/.test(roKey), "an application key and a read-only key made");

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const requests = [], errors = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(String(e)));
  const text = (sel) => page.textContent(sel);
  const login = async (key) => {
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(base + "/#/");
    await page.waitForSelector("#login-key");
    await page.fill("#login-key", key);
    await page.click("#login button[type=submit]");
  };
  const until = async (fn, ms = 5000, what = "") => {
    for (let t = 0; t < ms; t += 100) {
      if (await fn()) return true;
      await sleep(100);
    }
    return false;
  };
  const submit = async (formSel, expect) => {
    await page.$eval(`${formSel} .result`, (el) => (el.textContent = "")); // not the last answer's
    await page.click(`${formSel} button[type=submit]`);
    await page.waitForFunction((s) => document.querySelector(`${s} .result`)?.textContent !== "", formSel, { timeout: 5000 });
    const t = await text(`${formSel} .result`);
    if (expect !== undefined) check(t === expect, `${formSel}: '${expect}' (${t})`);
    return t;
  };

  // ---- logging in: a bad key refused with the reason, a good one lets in and is kept
  await page.goto(base + "/");
  await page.waitForSelector("#login-key");
  check(await page.$("label[for=login-key]") !== null, "the key's input has a label");
  await page.fill("#login-key", "lgk_" + "0".repeat(64));
  await page.click("#login button[type=submit]");
  await page.waitForFunction(() => document.getElementById("login-error")?.textContent !== "");
  check((await text("#login-error")).startsWith("refused:") && (await page.$("#login-key")) !== null,
        `a bad key is refused and the login stays (${await text("#login-error")})`);
  await page.fill("#login-key", TOKEN);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#devices-results .device", { timeout: 5000 });
  check((await text("#scope")).includes("admin, read-write"), `logged in as admin (${await text("#scope")})`);
  check(await page.evaluate(() => sessionStorage.getItem("lorageo_token")) === TOKEN, "the key is kept in sessionStorage");
  await page.reload();
  await page.waitForSelector("#devices-results .device", { timeout: 5000 });
  check(!page.url().includes("token"), "a reload stays logged in, the key not in the URL");

  // ---- devices searched and paged (50 a page): 124 devices = 50 + 50 + 24
  const shown = () => page.$$eval("#devices-results .device", (d) => d.map((x) => x.dataset.eui));
  const pages = [];
  for (let i = 0; i < 3; i++) {
    if (i) {
      const before = (await shown())[0];
      await page.click("#devices-next");
      await until(async () => (await shown())[0] !== before);
    }
    pages.push(await shown());
  }
  const all = pages.flat();
  check(pages.map((p) => p.length).join() === "50,50,24" && new Set(all).size === 124,
        `three pages of 50, 50, 24 distinct devices (${pages.map((p) => p.length)})`);
  check(await page.isDisabled("#devices-next") && all.join() === [...all].sort().join(), "the last page, in DevEUI order");
  await page.click("#devices-prev");
  await until(async () => (await shown())[0] === pages[1][0]);
  check((await shown()).join() === pages[1].join(), "previous goes back a page");
  await page.fill("#devices-search", "SENSOR-11");
  await until(async () => (await shown()).length === 10);
  check((await page.$$eval("#devices-results .device b", (b) => b.map((x) => x.textContent))).every((n) => /^sensor-11\d$/.test(n)),
        "searching a name (any case): sensor-110..119");
  await page.fill("#devices-search", "0a0042");
  await until(async () => (await shown()).join() === "00000000000a0042");
  check((await shown()).join() === "00000000000a0042", "searching a part of the DevEUI");

  // ---- an application through the forms: add, edit, delete
  await page.goto(base + "/#/applications");
  await page.fill("#add-application input[name=name]", "");
  await submit("#add-application");
  check((await text("#add-application .result")).startsWith("refused: name"), "an application without a name refused with the reason");
  await page.fill("#add-application input[name=name]", "orchard");
  await page.fill("#add-application input[name=description]", "apple trees");
  await page.click("#add-application button[type=submit]");
  await page.waitForSelector("#edit-application", { timeout: 5000 });
  const appId = Number(page.url().split("/").pop());
  check((await adm("GET", `/api/applications/${appId}`)).json?.description === "apple trees", "the application added is in the API");
  await page.fill("#edit-application input[name=name]", "orchard-2");
  await submit("#edit-application", "saved");
  check((await adm("GET", `/api/applications/${appId}`)).json?.name === "orchard-2", "renamed through the form");

  // ---- a profile: add (with a codec), edit, and (later) delete
  await page.goto(base + "/#/profiles");
  await page.fill("#add-profile input[name=name]", "valves");
  await page.fill("#add-profile input[name=payload_codec]", "js:valve");
  await page.fill("#add-profile input[name=uplink_interval_s]", "soon");
  check((await submit("#add-profile")).startsWith("refused: uplink_interval_s"), "a bad number refused naming the field");
  await page.fill("#add-profile input[name=uplink_interval_s]", "600");
  await page.click("#add-profile button[type=submit]");
  await page.waitForSelector("#edit-profile", { timeout: 5000 });
  const profId = Number(page.url().split("/").pop());
  let p = (await adm("GET", `/api/device-profiles/${profId}`)).json;
  check(p?.payload_codec === "js:valve" && p?.uplink_interval_s === 600 && p?.class === "A", `profile added: ${JSON.stringify(p)}`);
  await page.selectOption("#edit-profile select[name=class]", "C");
  await submit("#edit-profile", "saved");
  check((await adm("GET", `/api/device-profiles/${profId}`)).json?.class === "C", "profile edited: class C");
  const spare = (await adm("POST", "/api/device-profiles", { name: "spare" })).json.id;

  // ---- a device: add with application and profile pickers, edit, queue, delete
  await page.goto(base + "/#/add");
  await page.waitForSelector("#add-device");
  await page.fill("#add-device input[name=dev_eui]", "00000000000c0001");
  await page.fill("#add-device input[name=name]", "valve-1");
  await page.selectOption("#add-device select[name=application_id]", String(appId));
  await page.selectOption("#add-device select[name=profile_id]", String(profId));
  await page.fill("#add-device input[name=dev_addr]", "26011bda");
  await page.fill("#add-device input[name=nwk_s_key]", "not-a-key");
  await page.fill("#add-device input[name=app_s_key]", "00112233445566778899aabbccddeeff");
  check((await submit("#add-device")).startsWith("refused: nwk_s_key"), `a bad key refused naming it (${await text("#add-device .result")})`);
  await page.fill("#add-device input[name=nwk_s_key]", "00112233445566778899aabbccddeeff");
  await submit("#add-device", "added");
  let d = (await adm("GET", "/api/devices/00000000000c0001")).json;
  check(d?.name === "valve-1" && d.application_id === appId && d.profile_id === profId && d.class === "C",
        `the device added with its application and profile (class C from it): ${JSON.stringify(d)?.slice(0, 200)}`);
  await page.goto(base + "/#/device/00000000000c0001");
  await page.waitForSelector("#edit-device");
  await page.fill("#edit-device input[name=name]", "valve-north");
  await page.selectOption("#edit-device select[name=profile_id]", String(spare));
  await page.selectOption("#edit-device select[name=adr]", "eadr");
  await submit("#edit-device", "saved");
  d = (await adm("GET", "/api/devices/00000000000c0001")).json;
  check(d?.name === "valve-north" && d.profile_id === spare && d.adr === "eadr" && d.class === "A",
        `renamed, profile changed, ADR set: ${JSON.stringify(d)?.slice(0, 200)}`);
  await page.selectOption("#edit-device select[name=profile_id]", String(profId));
  await submit("#edit-device", "saved");
  await page.reload();
  await page.waitForSelector("#queue-form");
  await page.fill("#queue-form input[name=f_port]", "5");
  await page.fill("#queue-form textarea[name=data]", "01 fg");
  check((await submit("#queue-form")).startsWith("refused: data: expected hex"), "bad hex refused before sending");
  await page.fill("#queue-form textarea[name=data]", "01ff");
  await submit("#queue-form", "queued");
  await page.selectOption("#queue-form select[name=format]", "object");
  await page.fill("#queue-form textarea[name=data]", "{open: true}");
  check((await submit("#queue-form")).startsWith("refused: object: not JSON"), "an object that is not JSON refused");
  await page.fill("#queue-form textarea[name=data]", '{"open": true, "minutes": 30}');
  await submit("#queue-form", "queued");
  const q = (await adm("GET", "/api/devices/00000000000c0001/queue")).json?.items ?? [];
  check(q.length === 2 && q[0].f_port === 5 && q[0].data === "Af8=" && q[1].f_port === 9 && q[1].data === Buffer.from([1, 30]).toString("base64"),
        `GET .../queue holds the hex downlink and the codec's (${JSON.stringify(q)})`);
  await page.waitForFunction(() => document.querySelectorAll("#queue-list .queued").length === 2, null, { timeout: 5000 });
  await page.click("#delete-device");
  await page.click("#delete-device-yes");
  await page.waitForFunction(() => location.hash === "#/", null, { timeout: 5000 });
  check((await adm("GET", "/api/devices/00000000000c0001")).status === 404, "the device deleted through the console");

  // the profile and the application, now unused, deleted through the console
  await page.goto(`${base}/#/profile/${profId}`);
  await page.click("#delete-profile");
  await page.click("#delete-profile-yes");
  await page.waitForFunction(() => location.hash === "#/profiles", null, { timeout: 5000 });
  check((await adm("GET", `/api/device-profiles/${profId}`)).status === 404, "the profile deleted");
  await page.goto(`${base}/#/application/${appB.id}`);
  await page.click("#delete-application");
  await page.click("#delete-application-yes");
  await page.waitForSelector("#delete-application-result:not(:empty)", { timeout: 5000 });
  check((await text("#delete-application-result")).includes("409"), `an application with devices: the 409 shown (${await text("#delete-application-result")})`);
  await page.goto(`${base}/#/application/${appId}`);
  await page.click("#delete-application");
  await page.click("#delete-application-yes");
  await page.waitForFunction(() => location.hash === "#/applications", null, { timeout: 5000 });
  check((await adm("GET", `/api/applications/${appId}`)).status === 404, "the application deleted");

  // ---- a gateway: add, edit, delete
  await page.goto(base + "/#/add");
  await page.waitForSelector("#add-gateway");
  await page.fill("#add-gateway input[name=gateway_eui]", "aa555a00000000ee");
  await page.fill("#add-gateway input[name=name]", "mast");
  await page.fill("#add-gateway input[name=latitude]", "55.7");
  await page.fill("#add-gateway input[name=longitude]", "12.5");
  await submit("#add-gateway", "added");
  await page.goto(base + "/#/gateway/aa555a00000000ee");
  await page.waitForSelector("#edit-gateway");
  const linksRow = await page.textContent("td.links");
  check(/^none yet/.test(linksRow), `the gateway page says what ADR learned of its links (${linksRow})`);
  await page.fill("#edit-gateway input[name=name]", "mast-2");
  await page.fill("#edit-gateway input[name=latitude]", "95");
  check((await submit("#edit-gateway")).startsWith("refused: latitude"), "a latitude of 95 refused naming it");
  await page.fill("#edit-gateway input[name=latitude]", "55.71");
  await submit("#edit-gateway", "saved");
  const g = (await adm("GET", "/api/gateways/aa555a00000000ee")).json;
  check(g?.name === "mast-2" && g.latitude === 55.71, `the gateway edited (${JSON.stringify(g)?.slice(0, 120)})`);
  await page.click("#delete-gateway");
  await page.click("#delete-gateway-yes");
  await page.waitForFunction(() => location.hash === "#/gateways", null, { timeout: 5000 });
  check((await adm("GET", "/api/gateways/aa555a00000000ee")).status === 404, "the gateway deleted");

  // ---- the live frame log: an uplink sent now, the downlink that answers it, a refused frame
  check((await adm("POST", `/api/devices/${ABP.dev_eui}/queue`, { f_port: 3, data: "AQI=" })).status === 202, "a downlink queued for the tracker");
  for (const gw of gateways) await pull(gw);
  await page.goto(base + "/#/");
  await sleep(1500); // the log's first read done
  let t0 = Date.now();
  await frameFromAll(dataUp(1, "hello"));
  const upSeen = await until(() => page.$(`#log-list li.up[data-dev="${ABP.dev_eui}"][data-fcnt="1"]`), 5000);
  check(upSeen, `the uplink is in the frame log within 5 s (${Date.now() - t0} ms)`);
  check(await until(() => page.$(`#log-list li.downlink[data-dev="${ABP.dev_eui}"]`), 5000), "and the downlink answering it");
  t0 = Date.now();
  await frameFromAll(dataUp(2, "forged", false, Buffer.alloc(16, 7))); // a MIC the device's key does not give
  check(await until(() => page.$('#log-list li.error[data-reason="mic"]'), 5000), `a frame refused for its MIC is an error line (${Date.now() - t0} ms)`);

  // ---- the map centres on the opened device
  await until(() => page.evaluate((e) => window.lorageo.devices.has(e), ABP.dev_eui), 5000);
  await page.evaluate(() => window.lorageo.map.setView([0, 0], 3));
  await page.goto(`${base}/#/device/${ABP.dev_eui}`);
  await page.waitForSelector("#uplinks .uplink", { timeout: 5000 });
  const c = await page.evaluate((e) => ({ centre: window.lorageo.map.getCenter(), at: window.lorageo.devices.get(e).marker.getLatLng() }), ABP.dev_eui);
  check(haversine(c.centre.lat, c.centre.lng, c.at.lat, c.at.lng) < 20, `the map centred on the device (${JSON.stringify(c)})`);
  if (shot) await page.screenshot({ path: shot });

  // ---- gateways online, and offline once they stop: 0 keeps sending, 1 stops
  for (const gw of gateways) await pull(gw);
  await page.goto(base + "/#/gateways");
  const badge = (eui) => page.textContent(`.gw[data-eui="${eui}"] .badge`);
  await page.waitForSelector(".gw .badge");
  check(await badge(gateways[0].eui) === "online" && await badge(gateways[1].eui) === "online", "both gateways online after their PULL_DATA");
  t0 = Date.now();
  let offline = false;
  while (Date.now() - t0 < 40000 && !offline) {
    await pull(gateways[0]);
    await sleep(1000);
    offline = (await badge(gateways[1].eui)) === "offline";
  }
  const s = (Date.now() - t0) / 1000;
  check(offline && s > 8, `the silent gateway turns offline (${s.toFixed(0)} s)`);
  check(await badge(gateways[0].eui) === "online", "the one still sending stays online");
  if (shot) await page.screenshot({ path: shot.replace(/\.png$/, "-gateways.png") });

  // ---- an application's key: its devices only, gateways and profiles read-only
  await login(appKey);
  await page.waitForSelector("#devices-results .device", { timeout: 5000 });
  const mine = await shown();
  check(mine.length === 3 && mine.every((e) => e.startsWith("00000000000b")), `the application key sees its 3 devices only (${mine})`);
  check((await text("#scope")).includes(`application ${appB.id}, read-write`), `scope shown (${await text("#scope")})`);
  await page.goto(base + "/#/gateways");
  await page.waitForSelector(".gw");
  check(!(await page.$("a[href='#/add']")) || !(await text("#list")).includes("add a gateway"), "no add-gateway link for an application key");
  await page.goto(`${base}/#/gateway/${gateways[0].eui}`);
  await page.waitForSelector("h3");
  check(await page.$("#edit-gateway") === null && await page.$("#delete-gateway") === null, "no gateway edit for an application key");
  await page.goto(base + "/#/add");
  await page.waitForSelector("#add-device");
  check(await page.$("#add-gateway") === null && await page.$("#add-device select[name=application_id]") === null,
        "an application key adds devices (to its application) but no gateway");
  await page.goto(`${base}/#/device/${ABP.dev_eui}`);
  await page.waitForSelector("#list .error");
  check((await text("#list")).includes("404"), "another application's device: not found");

  // ---- a read-only key: no edit controls; a write forced anyway shows the server's 403
  await login(roKey);
  await page.waitForSelector("#devices-results .device", { timeout: 5000 });
  check((await text("#scope")).includes("admin, read-only"), `read-only scope shown (${await text("#scope")})`);
  await page.goto(`${base}/#/device/${ABP.dev_eui}`);
  await page.waitForSelector("#uplinks .uplink", { timeout: 5000 });
  const controls = await page.$$("#edit-device, #queue-form, #delete-device, #queue-flush");
  check(controls.length === 0, `no edit, queue or delete controls for a read-only key (${controls.length})`);
  await page.goto(base + "/#/add");
  await page.waitForSelector("#list p");
  check(await page.$("form.edit") === null && (await text("#list")).includes("reads only"), "the add page says the key reads only");
  for (const route of ["#/gateways", "#/profiles", "#/applications"]) {
    await page.goto(base + "/" + route);
    await sleep(400);
    check(await page.$("form.edit, button.danger") === null, `no forms on ${route} for a read-only key`);
  }
  await page.goto(`${base}/#/device/${ABP.dev_eui}`);
  await page.waitForSelector("#uplinks .uplink", { timeout: 5000 });
  await page.evaluate(() => { window.lorageo.console.ctx.me.read_only = false; return window.lorageo.console.render(); });
  await page.waitForSelector("#edit-device");
  await page.fill("#edit-device input[name=name]", "hijacked");
  const refused = await submit("#edit-device");
  check(refused.includes("HTTP 403") && refused.includes("read-write"), `the forced write shows the 403 (${refused})`);
  check((await adm("GET", `/api/devices/${ABP.dev_eui}`)).json?.name === "tracker", "and nothing changed");

  const foreign = requests.filter((u) => !u.startsWith(base) && !u.includes("tile.openstreetmap.org"));
  check(foreign.length === 0, `no request leaves the server but map tiles: ${foreign}`);
  check(errors.length === 0, `no script errors: ${errors}`);
}, async () => {
  await browser?.close();
  for (const g of gateways) g.sock.close();
});
