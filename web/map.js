// The live map: gateways (grey when offline), each device's position with its accuracy
// circle (68 %), and its track — as the server's Kalman filter has them, an outlying fix
// gated out; the raw fixes on demand ("raw fixes"); coloured by health while the fleet
// dashboard is shown (colourBy). Drawn from /api/map; after the first
// draw only the devices located since come (?since=). No tiles from outside unless
// OpenStreetMap answers: a plain grid lies under them.
import { esc } from "./ui.js";

export const map = L.map("map", { preferCanvas: true }).setView([0, 0], 2);
L.control.scale().addTo(map);
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

const USUAL = "#c33"; // a device's colour on the map (but for the fleet dashboard's)
export const gatewayLayer = L.layerGroup().addTo(map);
export const rawLayer = L.layerGroup(); // the fixes as located, shown with "raw fixes"
export const devices = new Map(); // dev_eui -> { marker, circle, track, raw, last }
export const lastPos = new Map(); // dev_eui -> its latest position
let framed = false;

export function draw(data) {
  gatewayLayer.clearLayers();
  const bounds = [];
  for (const g of data.gateways) {
    if (g.latitude == null) continue;
    const colour = g.online === false ? "#889" : "#236";
    L.circleMarker([g.latitude, g.longitude], { radius: 6, color: colour, fillOpacity: 0.9, className: "gateway" })
      .bindTooltip(`gateway ${esc(g.name || g.gateway_eui)} (${g.online ? "online" : "offline"})`).addTo(gatewayLayer)
      .on("click", () => (location.hash = `#/gateway/${g.gateway_eui}`));
    bounds.push([g.latitude, g.longitude]);
  }
  for (const d of data.devices) {
    const p = d.latest;
    const at = [p.latitude, p.longitude];
    let v = devices.get(d.dev_eui);
    if (!v) {
      v = {
        circle: L.circle(at, { radius: p.accuracy_m, color: USUAL, weight: 1, fillOpacity: 0.1 }).addTo(map),
        track: L.polyline([], { color: "#c33", weight: 2, opacity: 0.6 }).addTo(map),
        raw: L.polyline([], { color: "#777", weight: 1, dashArray: "3 4", opacity: 0.8 }).addTo(rawLayer),
        marker: L.circleMarker(at, { radius: 5, color: USUAL, fillOpacity: 1, className: "device" }).addTo(map),
      };
      devices.set(d.dev_eui, v);
    }
    const how = p.filtered ? `${p.method}, filtered; last fix ±${p.raw.accuracy_m.toFixed(0)} m` : p.method;
    v.marker.setLatLng(at).bindTooltip(`${esc(d.name || d.dev_eui)}: ±${p.accuracy_m.toFixed(0)} m (${how})`);
    v.circle.setLatLng(at).setRadius(p.accuracy_m);
    v.track.setLatLngs(d.track);
    v.raw.setLatLngs(d.raw ?? d.track);
    v.last = p;
    paint(d.dev_eui, v);
    v.marker.off("click").on("click", () => (location.hash = `#/device/${d.dev_eui}`));
    lastPos.set(d.dev_eui, p);
    bounds.push(at);
  }
  if (!framed && bounds.length && !want) {
    map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
    framed = true;
  }
  centre();
}

// The fleet dashboard colours the devices by health: colourOf(dev_eui) gives a CSS colour
// (undefined: the usual one); null gives every device its usual colour back.
let colourOf = null;
function paint(eui, v) {
  const c = (colourOf && colourOf(eui)) || USUAL;
  if (v.marker.options.color === c) return;
  v.marker.setStyle({ color: c, fillColor: c });
  v.circle.setStyle({ color: c, fillColor: c });
}
export function colourBy(fn) {
  colourOf = fn;
  for (const [eui, v] of devices) paint(eui, v);
}

// Another key sees other devices: everything drawn goes.
export function clear() {
  for (const v of devices.values()) {
    v.circle.remove();
    v.track.remove();
    v.marker.remove();
    v.raw.remove();
  }
  devices.clear();
  lastPos.clear();
  gatewayLayer.clearLayers();
  framed = false;
}

// The opened device in the middle of the map, once it has a position (at once, or when
// the map data brings it); after that the user pans freely.
let want = null, done = false;
function centre() {
  if (!want || done) return done;
  const p = lastPos.get(want);
  if (!p) return false;
  map.setView([p.latitude, p.longitude], Math.max(map.getZoom(), 15));
  devices.get(want)?.marker.bringToFront();
  framed = done = true;
  return true;
}
export function centreOn(eui) {
  if (want !== eui) done = false;
  want = eui;
  return centre();
}
export const forgetCentre = () => (want = null);
