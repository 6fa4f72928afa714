// The fleet's API through the real server (issue 19): inventory fields, bulk import (JSON,
// CSV, all or nothing with each refused row named), queries by tag and life-cycle state,
// export, retiring; alarms from the packet path (a counter reset, a MIC burst) stored,
// counted, acknowledged once; a profile's alarm thresholds checked by name; the
// configuration shadow from desired to sent (a queued frame on the configuration port) to
// applied (the device's report on that port), with its history.
// Usage: node fleet_api.mjs path/to/lorageo
import lora from "lora-packet";
import {
  ABP, api, app, armTimeout, base, check, dataUp, frameFromAll, gateways, metric, nwk, pull, sleep, start, stop, tally, waitHealthy,
} from "./harness.mjs";

armTimeout(60000);
const key = "2b7e151628aed2a6abf7158809cf4f3c";
const otaa = (i, extra = {}) => ({ dev_eui: `70b3d5e7c00000${String(i).padStart(2, "0")}`, join_eui: "70b3d5e75e0000ff", app_key: key, ...extra });
const upOn = (fcnt, port, bytes) => lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from(ABP.dev_addr, "hex"),
  FCnt: fcnt, FPort: port, payload: Buffer.from(bytes) }, app, nwk).getPHYPayload();

try {
  start();
  await waitHealthy();
  for (const g of gateways)
    await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  for (const g of gateways) await pull(g);

  // ---- inventory: import, all or nothing
  let r = await api("POST", "/api/devices/import", { devices: [otaa(1, { tags: { site: "north", floor: "2" }, hardware: "hw-a", firmware: "1.0" }),
    otaa(2, { tags: { site: "south" } }), otaa(3, { tags: { site: "north" } })] });
  check(r.status === 201 && r.json.imported === 3, `3 devices imported (${r.text})`);
  r = await api("POST", "/api/devices/import", { devices: [otaa(4), otaa(5, { app_key: "zz" }), otaa(4), otaa(1), otaa(6, { tags: { "bad key": "x" } })] });
  check(r.status === 400 && r.json.refused === 4 && r.json.rows === 5, `a bad import is refused whole (${r.text})`);
  const rows = Object.fromEntries((r.json.errors ?? []).map((e) => [e.row, e.error]));
  check(/app_key/.test(rows[2]) && /twice/.test(rows[3]) && /exists/.test(rows[4]) && /tags/.test(rows[5]),
    `each refused row named with its reason (${JSON.stringify(rows)})`);
  check((await api("GET", `/api/devices/${otaa(4).dev_eui}`)).status === 404, "nothing of a refused import is written");
  const csv = "dev_eui,join_eui,app_key,name,tags,hardware\n" +
    `${otaa(7).dev_eui},70b3d5e75e0000ff,${key},"seven, with a comma",site=north;floor=1,hw-b\n` +
    `${otaa(8).dev_eui},70b3d5e75e0000ff,${key},eight,site=east,hw-b\n`;
  let h = await fetch(`${base}/api/devices/import`, { method: "POST", headers: { "Content-Type": "text/csv" }, body: csv });
  check(h.status === 201, `a CSV body imported (${h.status} ${await h.text()})`);
  r = await api("GET", `/api/devices/${otaa(7).dev_eui}`);
  check(r.json.name === "seven, with a comma" && r.json.tags.floor === "1" && r.json.hardware === "hw-b" &&
        r.json.lifecycle === "provisioned" && r.json.lifecycle_dates.provisioned_ns > 0, `CSV fields kept (${r.text})`);
  h = await fetch(`${base}/api/devices/import`, { method: "POST", headers: { "Content-Type": "text/csv" }, body: "dev_eui,colour\n1,2\n" });
  check(h.status === 400 && /colour/.test(await h.text()), "an unknown CSV column is named");

  // ---- queries
  r = await api("GET", "/api/devices?tag=site=north");
  check(r.json.items.length === 3 && r.json.items.every((d) => d.tags.site === "north"), `by tag (${r.json.items.length})`);
  r = await api("GET", "/api/devices?tag=site");
  check(r.status === 400 && /tag/.test(r.json.error), "a malformed tag filter is named");
  r = await api("PATCH", `/api/devices/${otaa(2).dev_eui}`, { lifecycle: "retired", firmware: "2.0" });
  check(r.status === 200 && r.json.lifecycle === "retired" && r.json.lifecycle_dates.retired_ns > 0 && r.json.tags.site === "south" &&
        r.json.firmware === "2.0", `retired by the operator, tags kept (${r.text})`);
  r = await api("PATCH", `/api/devices/${otaa(3).dev_eui}`, { lifecycle: "active" });
  check(r.status === 400 && /lifecycle/.test(r.json.error), "active is the server's to set");
  r = await api("GET", "/api/devices?lifecycle=retired");
  check(r.json.items.length === 1 && r.json.items[0].dev_eui === otaa(2).dev_eui, "by life-cycle state");
  h = await fetch(`${base}/api/devices/export?format=csv&lifecycle=provisioned`);
  const text = await h.text();
  check(h.headers.get("content-type").startsWith("text/csv") && text.split("\n").filter(Boolean).length === 1 + 4 &&
        text.includes('"seven, with a comma"'), `export as CSV (${text.slice(0, 300)})`);

  // ---- the packet path: life cycle, a reboot, a MIC burst
  check((await api("POST", "/api/devices", { ...ABP, fcnt_resets_allowed: true })).status === 201, "an ABP device");
  await frameFromAll(dataUp(10, "a"));
  await sleep(600);
  r = await api("GET", `/api/devices/${ABP.dev_eui}`);
  check(r.json.lifecycle === "active" && r.json.lifecycle_dates.active_ns > 0, `active at its first uplink (${r.json.lifecycle})`);
  await frameFromAll(dataUp(1, "rebooted"));
  await sleep(600);
  r = await api("GET", "/api/alarms?kind=reboot&open=true");
  check(r.json.items.length === 1 && r.json.items[0].subject === ABP.dev_eui && /reset/.test(r.json.items[0].detail),
    `a counter reset is a reboot alarm (${r.text})`);
  for (let i = 0; i < 5; i++) await frameFromAll(dataUp(20 + i, "forged", false, Buffer.alloc(16, 7)));
  await sleep(600);
  r = await api("GET", `/api/alarms?kind=mic_burst&subject=${ABP.dev_addr}`);
  check(r.json.items.length === 1 && r.json.items[0].subject_type === "dev_addr", `5 MIC failures: a burst (${r.text})`);
  const id = r.json.items[0]?.id;
  r = await api("POST", `/api/alarms/${id}/ack`, { by: "operator", note: "a replay test" });
  check(r.status === 200 && r.json.acknowledged && r.json.acked_by === "operator", `acknowledged (${r.text})`);
  r = await api("POST", `/api/alarms/${id}/ack`, { by: "operator" });
  check(r.status === 409, "acknowledged once");
  r = await api("POST", `/api/alarms/${id}/ack`, {});
  check(r.status === 400 && /by/.test(r.json.error), "who acknowledges is required");
  check(await metric('lorageo_alarms_raised_total{kind="mic_burst"}') === 1, "counted in /metrics");
  r = await api("GET", "/api/alarms?unacked=true");
  check(r.json.items.every((a) => a.id !== id), "unacked=true leaves it out");

  // ---- thresholds by name
  r = await api("POST", "/api/device-profiles", { name: "p", alarm_thresholds: { battery_rase: 3 } });
  check(r.status === 400 && /battery_rase/.test(r.json.error), `an unknown threshold is named (${r.text})`);
  r = await api("POST", "/api/device-profiles", { name: "p", alarm_thresholds: { battery_raise: 30, enabled: { reboot: false } } });
  check(r.status === 201 && r.json.alarm_thresholds.battery_raise === 30, `a profile's thresholds (${r.text})`);

  // ---- the configuration shadow
  r = await api("PATCH", `/api/devices/${ABP.dev_eui}/config`, { uplink_interval_s: 900, app_params: "0a0b", max_dr: 4 });
  check(r.status === 200 && !r.json.in_sync && r.json.pending.includes("uplink_interval_s") && !r.json.pending.includes("max_dr") &&
        r.json.pending_since_ns > 0, `desired: server-side applied, the rest pending (${r.text})`);
  await frameFromAll(dataUp(2, "b"));
  await sleep(600);
  let hist = (await api("GET", `/api/devices/${ABP.dev_eui}/config/history`)).json.items;
  check(hist.some((x) => x.action === "sent" && x.field === "uplink_interval_s"), `sent at its uplink (${JSON.stringify(hist.slice(0, 3))})`);
  const q = (await api("GET", `/api/devices/${ABP.dev_eui}/downlinks`)).json.items;
  check(q.some((d) => d.f_port === 222), `the configuration frame went out on port 222 (${JSON.stringify(q)})`);
  await frameFromAll(upOn(3, 222, [0x01, 0, 0, 0x03, 0x84, 0x02, 2, 0x0a, 0x0b])); // the device's report
  await sleep(600);
  r = await api("GET", `/api/devices/${ABP.dev_eui}/config`);
  check(r.json.in_sync && r.json.reported.uplink_interval_s === 900 && r.json.pending_since_ns === null, `in sync once reported (${r.text})`);
  hist = (await api("GET", `/api/devices/${ABP.dev_eui}/config/history`)).json.items;
  check(hist.some((x) => x.action === "applied" && x.field === "app_params" && /reported/.test(x.detail)), "applied, as reported");
  r = await api("PATCH", `/api/devices/${ABP.dev_eui}/config`, { rx2_dr: 3 });
  check(r.status === 400 && /rx1_dr_offset, rx2_dr and rx2_frequency/.test(r.json.error), "RX2 settings go together");
  const s = (await api("GET", "/api/fleet/summary")).json;
  check(s.devices === 6 && s.lifecycle.retired === 1 && s.lifecycle.active === 1 && s.alarms_open.mic_burst === 1,
    `the fleet summary (${JSON.stringify(s)})`);

  // ---- pages one item long: a DevEUI of zeros is an EUI like any other, not "from the
  // start" (a page ending on it used to send the reader back to the first, for ever)
  r = await api("POST", "/api/devices/import", { devices: [otaa(0, { dev_eui: "0000000000000000" })] });
  check(r.status === 201, `a device with DevEUI 0000000000000000 (${r.text})`);
  for (const [url, field, total] of [["/api/devices", "dev_eui", 7], ["/api/fleet/devices", "dev_eui", 7]]) {
    const seen = [];
    let after = null;
    for (let pages = 0; pages < total + 3; pages++) {
      const p = await api("GET", `${url}?limit=1${after !== null ? `&after=${after}` : ""}`);
      seen.push(...p.json.items.map((x) => x[field]));
      if (!p.json.next) break;
      after = p.json.next;
    }
    check(seen.length === total && new Set(seen).size === total && seen[0] === "0000000000000000",
      `${url}, one item a page: each of ${total} once, zeros first (${seen.join(" ")})`);
  }
} catch (e) {
  tally.failures++;
  console.error(`FAIL ${e.stack}`);
} finally {
  await stop().catch(() => {});
  for (const g of gateways) g.sock.close();
}
console.log(`${tally.checks - tally.failures}/${tally.checks} checks passed`);
process.exit(tally.failures ? 1 : 0);
