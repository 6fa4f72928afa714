// The live frame log: the devices' frames as they happen — uplinks, joins, downlinks, their
// acks and nacks — from GET /api/events?since= (asked again whenever /api/stream says
// anything, about once a second), and errors: frames the server refused and downlinks that
// failed, from the stream's "error" events (an admin's stream), and a device's own errors
// (nack, a queue item too large, a counter reset). Newest first, at most 300 lines.
import { get } from "./api.js";
import { esc, when } from "./ui.js";

const FRAME_TYPES = new Set(["up", "join", "downlink", "ack", "nack", "queue_discarded", "reset"]);
const ERROR_TYPES = new Set(["nack", "queue_discarded", "reset"]);
const MAX_LINES = 300;
const list = document.getElementById("log-list");
let since = null; // the last event id shown (null: not started)
let busy = false;
let paused = false;

function details(type, p) {
  switch (type) {
    case "up":
      return `FCnt ${p.f_cnt} · port ${p.f_port ?? "–"} · ${p.gateways} gateway${p.gateways === 1 ? "" : "s"}` +
        (p.frequency ? ` · ${(p.frequency / 1e6).toFixed(1)} MHz` : "") + (p.confirmed ? " · confirmed" : "");
    case "join":
      return `DevAddr ${p.dev_addr ?? "?"}`;
    case "downlink":
      return `FCnt ${p.f_cnt} · port ${p.f_port ?? "–"} · ${p.bytes} B` + (p.ack ? " · ACK" : "") +
        (p.confirmed ? " · confirmed" : "") + (p.mac_bytes ? ` · ${p.mac_bytes} B MAC` : "") + ` · class ${p.class}`;
    case "ack":
      return `downlink FCnt ${p.f_cnt_down} acknowledged`;
    case "nack":
      return `downlink FCnt ${p.f_cnt_down} not acknowledged: ${p.reason ?? ""}`;
    case "queue_discarded":
      return `queued ${p.bytes} B on port ${p.f_port} dropped: ${p.reason}`;
    case "reset":
      return `frame counter reset: ${p.f_cnt} (expected ${p.f_cnt_expected})`;
    default:
      return JSON.stringify(p).slice(0, 120);
  }
}

// Newest first by the event's time (a downlink is recorded before the uplink it answers,
// which waits for its storage batch; their times say the order).
function add(li) {
  const t = Number(li.dataset.t);
  const after = [...list.children].find((x) => Number(x.dataset.t) <= t);
  list.insertBefore(li, after ?? null);
  while (list.children.length > MAX_LINES) list.lastElementChild.remove();
}

function line(cls, kind, timeNs, who, text) {
  const li = document.createElement("li");
  li.className = `frame ${cls}`;
  li.dataset.type = kind;
  li.dataset.t = String(timeNs);
  li.innerHTML = `<time>${esc(when(timeNs).slice(11))}</time> <b class="kind">${esc(kind)}</b> ${who} <span>${esc(text)}</span>`;
  return li;
}

function show(e) {
  if (!FRAME_TYPES.has(e.type)) return;
  const who = `<a href="#/device/${esc(e.dev_eui)}">${esc(e.name || e.dev_eui)}</a>`;
  const li = line(ERROR_TYPES.has(e.type) ? `error ${e.type}` : e.type, e.type, e.time_ns_str ?? e.time_ns, who,
                  details(e.type, e.payload ?? {}));
  li.dataset.dev = e.dev_eui;
  if (e.type === "up") li.dataset.fcnt = e.payload?.f_cnt;
  add(li);
}

// The stream's error event: {"kind", "reason", "count", "total"}.
export function error(ev) {
  const what = ev.kind === "uplink_dropped" ? "frame refused" : "downlink failed";
  const li = line("error server", "error", Date.now() * 1e6, "", `${what}: ${ev.reason}` + (ev.count > 1 ? ` ×${ev.count}` : ""));
  li.dataset.reason = ev.reason;
  add(li);
}

// The newest events to begin with, then those after them each time.
export async function poll() {
  if (busy || paused) return;
  busy = true;
  try {
    if (since === null) {
      const r = await get("/api/events?limit=30");
      if (!r.ok) return;
      since = r.json.last_id;
      for (const e of r.json.items.slice().reverse()) show(e);
      return;
    }
    for (let more = true; more;) {
      const r = await get(`/api/events?since=${since}&limit=200`);
      if (!r.ok) return;
      for (const e of r.json.items) {
        show(e);
        since = Math.max(since, e.id);
      }
      more = r.json.next !== null;
    }
  } finally {
    busy = false;
  }
}

// Another key: another set of devices (the log starts again).
export function restart() {
  list.replaceChildren();
  since = null;
  poll();
}

document.getElementById("log-clear").addEventListener("click", () => list.replaceChildren());
const pause = document.getElementById("log-pause");
pause.addEventListener("click", () => {
  paused = !paused;
  pause.textContent = paused ? "resume" : "pause";
  pause.setAttribute("aria-pressed", String(paused));
  if (!paused) poll();
});
