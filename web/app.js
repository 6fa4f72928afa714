// The live map: gateways, each device's latest position with its accuracy circle, and its
// track. Redrawn from /api/map whenever /api/stream says something changed.
"use strict";
const token = new URLSearchParams(location.search).get("token");
const auth = token ? { headers: { Authorization: `Bearer ${token}` } } : {};
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
const devices = new Map(); // dev_eui -> { marker, circle, track, last }
window.lorageo = { devices, map, gatewayLayer };
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
  const list = [];
  for (const d of data.devices) {
    const p = d.track[0];
    const at = [p.latitude, p.longitude];
    let v = devices.get(d.dev_eui);
    if (!v) {
      v = {
        circle: L.circle(at, { radius: p.accuracy_m, color: "#c33", weight: 1, fillOpacity: 0.1 }).addTo(map),
        track: L.polyline([], { color: "#c33", weight: 2, opacity: 0.6 }).addTo(map),
        marker: L.circleMarker(at, { radius: 5, color: "#c33", fillOpacity: 1, className: "device" }).addTo(map),
      };
      devices.set(d.dev_eui, v);
    }
    v.marker.setLatLng(at).bindTooltip(`${d.name || d.dev_eui}: ±${p.accuracy_m.toFixed(0)} m (${p.method})`);
    v.circle.setLatLng(at).setRadius(p.accuracy_m);
    v.track.setLatLngs(d.track.map((q) => [q.latitude, q.longitude]));
    v.last = p;
    bounds.push(at);
    list.push(`<div><b>${d.name || d.dev_eui}</b><br>${p.latitude.toFixed(5)}, ${p.longitude.toFixed(5)}` +
              ` ±${p.accuracy_m.toFixed(0)} m<br>${new Date(p.time_ns / 1e6).toISOString()}</div>`);
  }
  document.getElementById("list").innerHTML = list.join("") || "no positions yet";
  if (!framed && bounds.length) {
    map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
    framed = true;
  }
}

async function refresh() {
  const r = await fetch("/api/map", auth);
  if (r.ok) draw(await r.json());
}
const stream = new EventSource("/api/stream" + (token ? `?token=${encodeURIComponent(token)}` : ""));
stream.addEventListener("update", () => refresh());
stream.onopen = () => (document.getElementById("status").textContent = "live");
stream.onerror = () => (document.getElementById("status").textContent = "reconnecting…");
