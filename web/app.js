// The live map: gateways, each device's position with its accuracy circle (68 %), and its
// track — as the server's Kalman filter has them, an outlying fix gated out; the raw fixes
// on demand ("raw fixes"). Redrawn from /api/map whenever /api/stream says something
// changed. The header says how good locating really is, from reference devices.
"use strict";
const token = new URLSearchParams(location.search).get("token") ?? sessionStorage.getItem("lorageo_token");
if (token) sessionStorage.setItem("lorageo_token", token); /* kept for the tab, not in the URL: */
if (location.search.includes("token=")) history.replaceState(null, "", location.pathname + location.hash);
const auth = token ? { headers: { Authorization: `Bearer ${token}` } } : { headers: {} };
const map = L.map("map", { preferCanvas: true }).setView([0, 0], 2);
L.control.scale().addTo(map);

// A plain grid under the tiles: what remains when OpenStreetMap cannot be reached.
const Grid = L.GridLayer.extend({
  createTile() {
    const t = document.createElement("canvas");
    t.width = t.height = 256;
    const g = t.getContext("2d");
    g.strokeStyle = "#ccc";
    g.strokeRect(0, 0, 256, 256);
    return t;
  },
});
new Grid({ zIndex: 0 }).addTo(map);
L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
  maxZoom: 19, zIndex: 1, attribution: "© OpenStreetMap contributors",
}).addTo(map);

const gatewayLayer = L.layerGroup().addTo(map);
const rawLayer = L.layerGroup(); // the fixes as located, shown with "raw fixes"
const devices = new Map(); // dev_eui -> { marker, circle, track, raw, last }
window.lorageo = { devices, map, gatewayLayer, rawLayer, draw: (data) => draw(data) };
const rawToggle = document.getElementById("raw");
rawToggle.addEventListener("change", () => (rawToggle.checked ? rawLayer.addTo(map) : rawLayer.remove()));
let framed = false;

function draw(data) {
  gatewayLayer.clearLayers();
  const bounds = [];
  for (const g of data.gateways) {
    if (g.latitude == null) continue;
    L.circleMarker([g.latitude, g.longitude], { radius: 6, color: "#236", fillOpacity: 0.9, className: "gateway" })
      .bindTooltip(`gateway ${g.gateway_eui}`).addTo(gatewayLayer);
    bounds.push([g.latitude, g.longitude]);
  }
  for (const d of data.devices) {
    const p = d.latest;
    const at = [p.latitude, p.longitude];
    let v = devices.get(d.dev_eui);
    if (!v) {
      v = {
        circle: L.circle(at, { radius: p.accuracy_m, color: "#c33", weight: 1, fillOpacity: 0.1 }).addTo(map),
        track: L.polyline([], { color: "#c33", weight: 2, opacity: 0.6 }).addTo(map),
        raw: L.polyline([], { color: "#777", weight: 1, dashArray: "3 4", opacity: 0.8 }).addTo(rawLayer),
        marker: L.circleMarker(at, { radius: 5, color: "#c33", fillOpacity: 1, className: "device" }).addTo(map),
      };
      devices.set(d.dev_eui, v);
    }
    const how = p.filtered ? `${p.method}, filtered; last fix ±${p.raw.accuracy_m.toFixed(0)} m` : p.method;
    v.marker.setLatLng(at).bindTooltip(`${esc(d.name || d.dev_eui)}: ±${p.accuracy_m.toFixed(0)} m (${how})`);
    v.circle.setLatLng(at).setRadius(p.accuracy_m);
    v.track.setLatLngs(d.track);
    v.raw.setLatLngs(d.raw ?? d.track);
    v.last = p;
    v.marker.off("click").on("click", () => (location.hash = `#/device/${d.dev_eui}`));
    bounds.push(at);
  }
  for (const d of data.devices) lastPos.set(d.dev_eui, d.latest);
  if (!framed && bounds.length) {
    map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
    framed = true;
  }
}

// ---- the side panel: devices, one device, gateways, the add forms (hash routes)
const lastPos = new Map(); // dev_eui -> latest position
const esc = (x) => String(x ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const when = (ns) => (ns ? new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19) : "never");
const get = async (url) => (await fetch(url, auth)).json();
const nav = `<nav><a href="#/">devices</a> · <a href="#/gateways">gateways</a> · <a href="#/add">add</a></nav>`;

async function devicesPage() {
  const devs = (await get("/api/devices")).items;
  return `<h3>Devices (${devs.length})</h3>` + devs.map((d) => {
    const p = lastPos.get(d.dev_eui);
    return `<div class="device"><a href="#/device/${esc(d.dev_eui)}"><b>${esc(d.name || d.dev_eui)}</b></a><br>` +
      `last seen ${when(d.last_seen_ns)}` + (p ? `<br>${p.latitude.toFixed(5)}, ${p.longitude.toFixed(5)} ±${p.accuracy_m.toFixed(0)} m` : "") + `</div>`;
  }).join("");
}

async function devicePage(eui) {
  const d = await get(`/api/devices/${eui}`);
  if (d.error) return `<p>${esc(d.error)}</p>`;
  const ups = (await get(`/api/devices/${eui}/uplinks?limit=10`)).items;
  return `<h3>${esc(d.name || d.dev_eui)}</h3><table>` +
    [["DevEUI", d.dev_eui], ["DevAddr", d.dev_addr], ["last seen", when(d.last_seen_ns)], ["data rate", `DR${d.dr ?? ups[0]?.dr ?? "?"}`],
     ["TX power index", d.tx_power_index], ["ADR", d.adr], ["battery", d.battery == null ? "unknown" : d.battery],
     ["link margin", d.margin_db == null ? "unknown" : `${d.margin_db} dB`], ["next FCnt", d.f_cnt_up_next]]
      .map(([k, v]) => `<tr><th>${k}</th><td>${esc(v)}</td></tr>`).join("") + `</table><h4>Uplinks</h4>` +
    ups.map((u) => `<div class="uplink">FCnt ${u.f_cnt} · ${(u.frequency / 1e6).toFixed(1)} MHz · DR${u.dr}<ul>` +
      u.rx_info.map((r) => `<li class="rx">${esc(r.gateway_eui)}: ${r.rssi} dBm, SNR ${r.snr} dB${r.late ? " (late)" : ""}</li>`).join("") +
      `</ul></div>`).join("");
}

async function gatewaysPage() {
  const gws = (await get("/api/gateways")).items;
  return `<h3>Gateways (${gws.length})</h3>` + gws.map((g) =>
    `<div class="gw"><b>${esc(g.name || g.gateway_eui)}</b> ${esc(g.gateway_eui)}<br>` +
    `${g.latitude == null ? "no position" : `${g.latitude.toFixed(5)}, ${g.longitude.toFixed(5)}`}<br>` +
    `last seen ${when(g.last_seen_ns)} · ${g.rx_packets} frames</div>`).join("");
}

function addPage() {
  const input = (n) => (n === "reference" ? `<input name="${n}" type="checkbox" value="true">` : `<input name="${n}">`);
  const f = (id, fields) => `<form id="${id}">` + fields.map((n) => `<label>${n} ${input(n)}</label>`).join("") +
    `<button>add</button><p class="result"></p></form>`;
  return `<h3>Add a device</h3><p>OTAA: dev_eui, join_eui, app_key. ABP: dev_eui, dev_addr, nwk_s_key, app_s_key.</p>` +
    f("add-device", ["dev_eui", "name", "join_eui", "app_key", "dev_addr", "nwk_s_key", "app_s_key", "reference"]) +
    `<h3>Add a gateway</h3>` + f("add-gateway", ["gateway_eui", "name", "latitude", "longitude", "altitude"]);
}

async function submit(form, url, numeric) {
  const body = {};
  for (const [k, v] of new FormData(form))
    if (v !== "") body[k] = k === "reference" ? true : numeric.includes(k) ? Number(v) : v;
  const r = await fetch(url, { method: "POST", body: JSON.stringify(body), headers: { ...auth.headers, "Content-Type": "application/json" } });
  const j = await r.json();
  form.querySelector(".result").textContent = r.ok ? "added" : `refused: ${j.error}`;
}

// How good locating is, measured on reference devices (their own GPS against the fixes).
async function showAccuracy() {
  const a = await get("/api/geo/accuracy");
  const m = a.methods?.auto;
  document.getElementById("accuracy").textContent = m
    ? `reference devices: median ${m.median_m.toFixed(0)} m, 90 % within ${m.p90_m.toFixed(0)} m (last ${m.frames} fixes)`
    : "";
}

async function render() {
  const [, page, arg] = location.hash.split("/");
  const panel = document.getElementById("list");
  const html = page === "device" ? await devicePage(arg) : page === "gateways" ? await gatewaysPage()
             : page === "add" ? addPage() : await devicesPage();
  if (page === "add" && panel.querySelector("#add-device")) return; /* keep what is typed */
  panel.innerHTML = nav + html;
  panel.querySelector("#add-device")?.addEventListener("submit", (e) => { e.preventDefault(); submit(e.target, "/api/devices", []); });
  panel.querySelector("#add-gateway")?.addEventListener("submit", (e) => {
    e.preventDefault();
    submit(e.target, "/api/gateways", ["latitude", "longitude", "altitude"]);
  });
}
window.addEventListener("hashchange", render);

// One refresh at a time; updates that arrive meanwhile fold into one more. After the first,
// only the devices located since the last one come (?since=).
let busy = false, again = false, lastId = 0;
async function refresh() {
  if (busy) return void (again = true);
  busy = true;
  try {
    const r = await fetch(`/api/map?since=${lastId}`, auth);
    if (r.ok) {
      const data = await r.json();
      draw(data);
      lastId = data.last_id;
    }
    await showAccuracy();
    await render();
  } finally {
    busy = false;
    if (again) {
      again = false;
      refresh();
    }
  }
}
// The live stream read with fetch, so the token goes in the Authorization header (an
// EventSource cannot send one); each "event: update" refreshes; reconnects after 2 s.
async function live() {
  const status = document.getElementById("status");
  for (;;) {
    try {
      const r = await fetch("/api/stream", auth);
      if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
      status.textContent = "live";
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let end;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          if (/^event: update$/m.test(buf.slice(0, end))) refresh();
          buf = buf.slice(end + 2);
        }
      }
    } catch {}
    status.textContent = "reconnecting…";
    await new Promise((r) => setTimeout(r, 2000));
  }
}
live();
