// The console's fleet dashboard (issue 19 item 4) in headless Chromium against a real server
// with real fleet state: seven devices in every life-cycle state (through POST, the bulk
// import, their own uplinks through the UDP path, an operator retiring one), a reboot alarm
// raised by a frame-counter reset, a silent alarm raised by a device that stops (its profile
// expects an uplink every 2 s), a configuration pending, a join. Checked: the dashboard's
// counts against the API and against what the test made; the devices needing attention;
// every located device's marker coloured by its health (and back to the usual colour off the
// dashboard); a device's timeline in the console against GET .../timeline, and that API's
// pages against one read; an alarm acknowledged from the dashboard is acknowledged in the
// API (and in the timeline); a read-only key sees no acknowledge control, an application's
// key no dashboard.
// Usage: node fleet_console.mjs path/to/lorageo [screenshot.png]
import { chromium } from "playwright-core";
import lora from "lora-packet";
import {
  armTimeout, as, base, check, frameFromAll, gateways, pull, runServerTest, server, sleep, start, stop, tally, truth, waitHealthy,
} from "./harness.mjs";

armTimeout(180000);
const shot = process.argv[3];
const TOKEN = "fleet-console-admin-token-0123";
const adm = (m, u, b) => as(TOKEN, m, u, b);

// ABP devices, each with its own address, keys and place (around the harness's truth)
const abp = (i, extra = {}) => ({
  dev_eui: `70b3d5e7c0f000${String(i).padStart(2, "0")}`, dev_addr: `26f000${String(i).padStart(2, "0")}`,
  nwk_s_key: `${String(i).padStart(2, "0")}`.repeat(16), app_s_key: `a${i}`.repeat(16), ...extra,
});
const at = (i) => ({ lat: truth.lat + 0.002 * (i % 3), lon: truth.lon + 0.003 * Math.floor(i / 3) });
async function uplink(dev, i, fcnt, payload = "hi") {
  const phy = lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from(dev.dev_addr, "hex"), FCnt: fcnt, FPort: 2,
    payload: Buffer.from(payload) }, Buffer.from(dev.app_s_key, "hex"), Buffer.from(dev.nwk_s_key, "hex")).getPHYPayload();
  await frameFromAll(phy, gateways, { at: at(i) });
}
async function until(fn, ms = 8000) {
  for (let t = 0; t < ms; t += 100) {
    if (await fn()) return true;
    await sleep(100);
  }
  return !!(await fn());
}

// The colours docs/fleet.md gives each health.
const COLOUR = { alarm: "#d02020", pending: "#e08a00", ok: "#2a8a2a", provisioned: "#8a8a9a", retired: "#5a5a66" };
const USUAL = "#c33";

const A = abp(1, { name: "rebooter", fcnt_resets_allowed: true }); // active, reboot alarm
const B = abp(2, { name: "quiet" });                                // silent (its profile: 2 s)
const C = abp(3, { name: "pending" });                              // active, configuration pending
const D = abp(4, { name: "fine" });                                 // active, nothing open
const E = abp(5, { name: "old" });                                  // heard, then retired
const F = { dev_eui: "70b3d5e7c0f00006", name: "spare", join_eui: "70b3d5e75e0000ff", app_key: "2b7e151628aed2a6abf7158809cf4f3c" };
const G = { dev_eui: "70b3d5e7c0f00007", name: "joiner", join_eui: "70b3d5e75e0000ff", app_key: "2b7e151628aed2a6abf7158809cf4f3c" };
const EXPECT = { [A.dev_eui]: "alarm", [B.dev_eui]: "alarm", [C.dev_eui]: "pending", [D.dev_eui]: "ok", [E.dev_eui]: "retired",
  [F.dev_eui]: "provisioned", [G.dev_eui]: "provisioned" };

let browser = null;
await runServerTest("fleet console", async () => {
  start({ LORAGEO_API_TOKEN: TOKEN });
  await waitHealthy();
  for (const g of gateways)
    await adm("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  for (const g of gateways) await pull(g);

  // ---- the fleet: a quick profile for the one that goes silent, POSTs and a bulk import
  const quick = (await adm("POST", "/api/device-profiles", { name: "quick", uplink_interval_s: 2,
    alarm_thresholds: { silent_intervals: 1, silent_grace_intervals: 0 } })).json;
  check(quick?.id > 0, "a profile expecting an uplink every 2 s");
  for (const d of [A, B, C, D])
    check((await adm("POST", "/api/devices", d.dev_eui === B.dev_eui ? { ...d, profile_id: quick.id } : d)).status === 201, `${d.name} provisioned`);
  const imp = await adm("POST", "/api/devices/import", { devices: [E, F, G] });
  check(imp.status === 201 && imp.json.imported === 3, `three imported (${imp.text})`);
  check((await adm("PATCH", `/api/devices/${C.dev_eui}/config`, { uplink_interval_s: 900, app_params: "0a0b" })).status === 200,
        "C: a desired interval and application parameters");

  // their own uplinks, through the gateways (each located where it is)
  await uplink(A, 1, 10);
  await uplink(B, 2, 1);
  await uplink(C, 3, 1);
  await uplink(D, 4, 1);
  await uplink(E, 5, 1);
  await sleep(600);
  await uplink(A, 1, 1, "rebooted"); // a frame-counter reset: a reboot
  const jr = lora.fromFields({ MType: "Join Request", AppEUI: Buffer.from(G.join_eui, "hex"), DevEUI: Buffer.from(G.dev_eui, "hex"),
    DevNonce: Buffer.from("0102", "hex") }, undefined, undefined, Buffer.from(G.app_key, "hex")).getPHYPayload();
  await frameFromAll(jr, gateways, { at: at(7) });
  await sleep(600);
  check((await adm("PATCH", `/api/devices/${E.dev_eui}`, { lifecycle: "retired" })).status === 200, "E retired by the operator");
  // B stops: silent after 2 s, seen at the engine's next tick (every 10 s)
  const silent = await until(async () => (await adm("GET", `/api/alarms?kind=silent&open=true`)).json.items.length === 1, 25000);
  check(silent, "B's silence raised a silent alarm");
  const alarms = (await adm("GET", "/api/alarms?open=true")).json.items;
  const reboot = alarms.find((a) => a.kind === "reboot" && a.subject === A.dev_eui);
  check(reboot && alarms.find((a) => a.kind === "silent")?.subject === B.dev_eui && alarms.length === 2,
        `open alarms: A's reboot, B's silence (${JSON.stringify(alarms.map((a) => [a.kind, a.subject]))})`);

  // ---- the API's view against what was made
  const sum = (await adm("GET", "/api/fleet/summary")).json;
  check(sum.devices === 7 && sum.lifecycle.provisioned === 2 && sum.lifecycle.active === 3 && sum.lifecycle.silent === 1 &&
        sum.lifecycle.retired === 1, `summary: 7 devices, 2 provisioned, 3 active, 1 silent, 1 retired (${JSON.stringify(sum.lifecycle)})`);
  check(sum.alarms_open.reboot === 1 && sum.alarms_open.silent === 1 && sum.config.pending === 1,
        `summary: alarms by kind, one configuration pending (${JSON.stringify([sum.alarms_open, sum.config])})`);
  const attention = sum.attention.map((d) => `${d.dev_eui}:${d.health}`).sort().join();
  check(attention === [A, B, C].map((d) => `${d.dev_eui}:${EXPECT[d.dev_eui]}`).sort().join() && sum.attention_total === 3,
        `attention: A and B (alarm), C (pending) (${attention})`);
  const health = new Map();
  for (let after = null, n = 0; n < 10; n++) { // pages of 3: the cursor crossed twice
    const p = (await adm("GET", `/api/fleet/devices?limit=3${after ? `&after=${after}` : ""}`)).json;
    for (const d of p.items) health.set(d.dev_eui, d.health);
    if (!(after = p.next)) break;
  }
  check(Object.entries(EXPECT).every(([e, h]) => health.get(e) === h) && health.size === 7,
        `every device's health as made (${JSON.stringify([...health])})`);

  // ---- the dashboard
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const login = async (key) => {
    await page.goto(base + "/#/");
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(base + "/#/");
    await page.waitForSelector("#login-key");
    await page.fill("#login-key", key);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#scope");
  };
  await login(TOKEN);
  await page.goto(base + "/#/fleet");
  await page.waitForSelector("#fleet-total", { timeout: 8000 });
  const n = (sel) => page.$eval(sel, (el) => Number(el.textContent));
  check(await n("#fleet-total") === sum.devices, `the dashboard's total is the API's (${await n("#fleet-total")})`);
  const states = {};
  for (const st of ["provisioned", "active", "silent", "retired"]) states[st] = await n(`#fleet-lifecycle li[data-state=${st}] .n`);
  check(JSON.stringify(states) === JSON.stringify({ provisioned: 2, active: 3, silent: 1, retired: 1 }) &&
        Object.entries(states).every(([k, v]) => sum.lifecycle[k] === v), `counts by state as the API's (${JSON.stringify(states)})`);
  const kinds = await page.$$eval("#fleet-alarm-kinds li[data-kind]", (l) => l.map((x) => `${x.dataset.kind}=${x.querySelector(".n").textContent}`));
  check(kinds.join() === "reboot=1,silent=1", `alarms open by kind (${kinds})`);
  check(await n('#fleet-config [data-config="pending"]') === 1 && await n('#fleet-config [data-config="in_sync"]') === sum.config.in_sync,
        "configuration pending and in sync as the API's");
  const att = await page.$$eval("#fleet-attention .attention", (l) => l.map((x) => `${x.dataset.eui}:${x.dataset.health}`).sort());
  check(att.join() === attention, `the devices needing attention (${att})`);
  const cReasons = await page.textContent(`#fleet-attention .attention[data-eui="${C.dev_eui}"]`);
  check(/config pending since/.test(cReasons ?? ""), `C: its pending configuration said (${cReasons})`);
  const listed = await page.$$eval("#fleet-alarms li.alarm", (l) => l.map((x) => Number(x.dataset.id)).sort());
  check(listed.join() === alarms.map((a) => a.id).sort().join(), `every open alarm listed (${listed})`);

  // the map, coloured by health: the five located devices
  const located = [A, B, C, D, E].map((d) => d.dev_eui);
  const colours = async () => page.evaluate((euis) => euis.map((e) => window.lorageo.devices.get(e)?.marker.options.color ?? null), located);
  const want = located.map((e) => COLOUR[EXPECT[e]]);
  const coloured = await until(async () => (await colours()).join() === want.join(), 8000);
  check(coloured, `markers coloured by health: ${await colours()} (want ${want})`);
  check(!(await page.evaluate(() => [...window.lorageo.devices.keys()])).includes(F.dev_eui), "a device never heard is not on the map");
  check(await until(async () => /5 of 7 devices located/.test(await page.textContent("#fleet-map-note"))),
        `the map note (${await page.textContent("#fleet-map-note")})`);
  if (shot) await page.screenshot({ path: shot });

  // ---- acknowledging from the dashboard
  const button = `#fleet-alarms li.alarm[data-id="${reboot.id}"] button.ack`;
  check(await page.$(button) !== null, "an acknowledge control for an admin read-write key");
  await page.click(button);
  const acked = await until(() => page.$(`#fleet-alarms li.alarm[data-id="${reboot.id}"] .acked`), 5000);
  check(acked, "the dashboard shows the alarm acknowledged");
  const ra = (await adm("GET", `/api/alarms/${reboot.id}`)).json;
  check(ra.acknowledged && ra.acked_by === "admin token" && ra.ack_note === "acknowledged in the console",
        `acknowledged in the API, by whom (${JSON.stringify([ra.acknowledged, ra.acked_by, ra.ack_note])})`);
  const other = alarms.find((a) => a.kind === "silent");
  check(!(await adm("GET", `/api/alarms/${other.id}`)).json.acknowledged, "the other alarm is not acknowledged");

  // ---- off the dashboard the markers take their usual colour again
  await page.goto(base + "/#/");
  await page.waitForSelector("#devices-results .device");
  check((await colours()).every((c) => c === USUAL), `usual colours off the dashboard (${await colours()})`);

  // ---- a device's timeline: the console against the API, the API's pages against one read
  const tlOf = async (eui) => (await adm("GET", `/api/devices/${eui}/timeline?limit=100`)).json.items;
  const tlA = await tlOf(A.dev_eui);
  const has = (tl, kind, action, extra = () => true) => tl.some((e) => e.kind === kind && e.action === action && extra(e));
  check(has(tlA, "reset", "reset", (e) => e.data.f_cnt === 1) && has(tlA, "alarm", "raised", (e) => e.alarm_id === reboot.id && e.alarm_kind === "reboot") &&
        has(tlA, "alarm", "acknowledged", (e) => /admin token/.test(e.detail)) && has(tlA, "lifecycle", "active") && has(tlA, "lifecycle", "provisioned"),
        `A's timeline: reset, reboot raised and acknowledged, active, provisioned (${JSON.stringify(tlA.map((e) => [e.kind, e.action]))})`);
  check(tlA.every((e, i) => i === 0 || e.time_ns <= tlA[i - 1].time_ns), "newest first");
  const tlB = await tlOf(B.dev_eui), tlC = await tlOf(C.dev_eui), tlG = await tlOf(G.dev_eui);
  check(has(tlB, "alarm", "raised", (e) => e.alarm_kind === "silent" && e.open) && has(tlB, "lifecycle", "silent"),
        `B's timeline: silent raised, the life cycle silent (${JSON.stringify(tlB.map((e) => [e.kind, e.action]))})`);
  check(has(tlC, "config", "desired", (e) => e.field === "uplink_interval_s" && e.value === 900) && has(tlC, "config", "sent", (e) => e.field === "uplink_interval_s"),
        `C's timeline: the interval desired, then sent (${JSON.stringify(tlC.map((e) => [e.kind, e.action, e.field]))})`);
  check(has(tlG, "join", "join") && !has(tlG, "lifecycle", "active"), `G's timeline: its join (${JSON.stringify(tlG.map((e) => [e.kind, e.action]))})`);
  // read a page at a time, each timeline is the same as in one read; entries of one time
  // (B's silent alarm and its life cycle, C's two fields desired together) are where a
  // cursor that is not exact would lose or repeat one
  const ties = (tl) => tl.some((e, i) => i > 0 && e.time_ns === tl[i - 1].time_ns && e.kind !== tl[i - 1].kind);
  check(ties(tlB) && tlC.filter((e) => e.action === "desired").length === 2, "timelines with entries of one time, of two sources and of one");
  for (const [d, tl] of [[A, tlA], [B, tlB], [C, tlC], [G, tlG]]) {
    const paged = [];
    for (let after = null, k = 0; k < 50; k++) {
      const p = (await adm("GET", `/api/devices/${d.dev_eui}/timeline?limit=1${after ? `&after=${after}` : ""}`)).json;
      paged.push(...p.items);
      if (!(after = p.next)) break;
    }
    check(JSON.stringify(paged) === JSON.stringify(tl), `${d.name}: its timeline a page at a time is the same as in one read (${paged.length} vs ${tl.length})`);
  }
  const badCursors = ["nonsense", "99999999999999999999.1.1", "1.99999999999.1", "1.1.-1", "1.1.1x", "-5.1.1", "1..1", " 1.1.1"];
  const cursorStatus = [];
  for (const c of badCursors)
    cursorStatus.push((await adm("GET", `/api/devices/${A.dev_eui}/timeline?after=${encodeURIComponent(c)}`)).status);
  check(cursorStatus.every((x) => x === 400), `bad cursors are refused (${JSON.stringify(cursorStatus)})`);

  await page.goto(`${base}/#/device/${A.dev_eui}`);
  await page.waitForSelector("#timeline li.tl", { timeout: 5000 });
  const shown = await page.$$eval("#timeline li.tl", (l) => l.map((x) => `${x.dataset.kind}/${x.dataset.action}`));
  check(shown.join() === tlA.map((e) => `${e.kind}/${e.action}`).join(), `the console's timeline is the API's (${shown})`);
  check(await page.$(`#timeline li.tl[data-kind=alarm][data-alarm-id="${reboot.id}"]`) !== null, "the alarm's entries carry its id");

  // ---- a read-only key: the dashboard, no acknowledge control; an application key: none
  const roKey = (await adm("POST", "/api/api-keys", { name: "watcher", read_only: true })).json.key;
  const appKey = (await adm("POST", "/api/api-keys", { name: "app-1", application_id: 1 })).json.key;
  await login(roKey);
  await page.goto(base + "/#/fleet");
  await page.waitForSelector("#fleet-alarms li.alarm", { timeout: 8000 });
  check(await page.$("#fleet-alarms button.ack") === null && await page.$(`#fleet-alarms li.alarm[data-id="${other.id}"] .unacked`) !== null,
        "a read-only key sees the alarms, no acknowledge control");
  await login(appKey);
  await page.goto(base + "/#/fleet");
  await page.waitForFunction(() => /needs an admin key/.test(document.getElementById("list").textContent), null, { timeout: 5000 });
  check(await page.$("#fleet-total") === null, "an application's key gets no dashboard");
  // ...and reads its device's timeline without who acknowledged an alarm, or their note
  const appTl = await as(appKey, "GET", `/api/devices/${A.dev_eui}/timeline?limit=100`);
  const acks = (appTl.json?.items ?? []).filter((e) => e.kind === "alarm" && e.action === "acknowledged");
  const admAcks = (await adm("GET", `/api/devices/${A.dev_eui}/timeline?limit=100`)).json.items
    .filter((e) => e.kind === "alarm" && e.action === "acknowledged");
  check(appTl.status === 200 && acks.length > 0 && acks.every((e) => e.detail === "by an operator") &&
        admAcks.every((e) => /admin token/.test(e.detail)),
        `the acknowledger is the operator's: an application key reads ${JSON.stringify(acks.map((e) => e.detail))}, admin ${JSON.stringify(admAcks.map((e) => e.detail))}`);
  check(errors.length === 0, `no script errors: ${errors}`);
}, async () => {
  await browser?.close();
  for (const g of gateways) g.sock.close();
});
