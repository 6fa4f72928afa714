// The fleet dashboard (issue 19 item 4) and a device's timeline. The dashboard is the same
// information as `lorageo fleet report`, read from the API: GET /api/fleet/summary (devices by
// life-cycle state, open alarms by kind, configuration in sync or pending, the devices that
// need attention), GET /api/alarms?open=true (each open alarm, acknowledged from here by a
// read-write admin key: POST /api/alarms/{id}/ack), and GET /api/fleet/devices (every
// device's health) to colour the map while the dashboard is shown. The server decides a
// device's health (docs/fleet.md); the console only gives each word its colour.
//
// A refresh (after a live update) reloads what is read from the server, at most every 2 s.
import { errorText, get, path, request } from "./api.js";
import { ago, esc, when } from "./ui.js";

export const HEALTH = [
  ["alarm", "#d02020", "an open alarm, or silent"],
  ["pending", "#e08a00", "configuration pending"],
  ["ok", "#2a8a2a", "active, nothing open"],
  ["provisioned", "#8a8a9a", "never heard"],
  ["retired", "#5a5a66", "retired"],
];
const COLOUR = Object.fromEntries(HEALTH.map(([h, c]) => [h, c]));
const STATES = ["provisioned", "active", "silent", "retired"];

// Who acknowledges: the key's name, else what authenticated.
const who = (me) => me.key_name || (me.auth === "token" ? "admin token" : "console");

// Every device's health, all pages: Map dev_eui -> {health, name, alarms, ...}.
async function healthOfAll() {
  const all = new Map();
  let after = null;
  do {
    const r = await get(`/api/fleet/devices?limit=1000${after ? `&after=${after}` : ""}`);
    if (!r.ok) return { error: errorText(r) };
    for (const d of r.json.items) all.set(d.dev_eui, d);
    after = r.json.next;
  } while (after);
  return { all };
}

function reasons(d) {
  const r = d.alarms.map((k) => `<span class="badge alarm" data-kind="${esc(k)}">${esc(k)}</span>`);
  if (d.lifecycle === "silent" && !d.alarms.includes("silent")) r.push(`<span class="badge alarm">silent</span>`);
  if (d.config_pending_since_ns) r.push(`<span class="badge pending">config pending since ${when(d.config_pending_since_ns)}</span>`);
  return r.join(" ");
}

function alarmItem(a, names, canAck) {
  const subject = a.subject_type === "device"
    ? `<a href="#/device/${esc(a.subject)}">${esc(names.get(a.subject) || a.subject)}</a>`
    : `${esc(a.subject_type)} ${esc(a.subject)}`;
  const state = a.acknowledged
    ? `<span class="acked">acknowledged by ${esc(a.acked_by)}${a.ack_note ? `: ${esc(a.ack_note)}` : ""}</span>`
    : canAck ? `<button type="button" class="ack" data-id="${a.id}">acknowledge</button>` : `<span class="unacked">not acknowledged</span>`;
  return `<li class="alarm" data-id="${a.id}" data-kind="${esc(a.kind)}" data-subject="${esc(a.subject)}">` +
    `<b>${esc(a.kind)}</b> · ${subject} · raised ${when(a.raised_ns)}${a.raises > 1 ? ` (${a.raises} times)` : ""}<br>` +
    `<small>${esc(a.detail)}</small><br>${state} <span class="error" role="status"></span></li>`;
}

// The dashboard page (nav: the console's section links, put on top).
export function fleetPage(ctx, mapView, nav) {
  const me = ctx.me, canAck = me.admin && !me.read_only;
  if (!me.admin)
    return { html: `${nav}<p>The fleet dashboard needs an admin key: this one is application ${esc(me.application_id)}'s.</p>` };
  let panelRef = null, busy = false, again = false, last = 0, timer = null;
  const load = async (panel) => {
    if (busy) return void (again = true); /* once this one is done */
    busy = true;
    last = Date.now();
    try {
      const [s, al, h] = await Promise.all([get("/api/fleet/summary?attention_limit=200"),
        get("/api/alarms?open=true&limit=500"), healthOfAll()]);
      if (!panel.isConnected) return;
      const box = panel.querySelector("#fleet-body");
      if (!s.ok) return void (box.innerHTML = `<p class="error">${esc(errorText(s))}</p>`);
      const f = s.json, names = new Map([...(h.all ?? new Map()).values()].map((d) => [d.dev_eui, d.name]));
      const kinds = Object.entries(f.alarms_open).sort(([a], [b]) => a.localeCompare(b));
      const att = [...f.attention].sort((a, b) => (a.health === "alarm" ? 0 : 1) - (b.health === "alarm" ? 0 : 1));
      const alarms = al.ok ? al.json.items : [];
      box.innerHTML =
        `<p><b id="fleet-total">${f.devices}</b> devices</p>` +
        `<ul id="fleet-lifecycle" class="counts">${STATES.map((st) =>
          `<li data-state="${st}"><span class="n">${f.lifecycle[st] ?? 0}</span> ${st}</li>`).join("")}</ul>` +
        `<p id="fleet-config">configuration: <span class="n" data-config="in_sync">${f.config.in_sync}</span> in sync, ` +
        `<span class="n" data-config="pending">${f.config.pending}</span> pending</p>` +
        `<h4>Alarms open by kind</h4><ul id="fleet-alarm-kinds" class="counts">` +
        (kinds.length ? kinds.map(([k, n]) => `<li data-kind="${esc(k)}"><span class="n">${n}</span> ${esc(k)}</li>`).join("") : "<li>none</li>") +
        `</ul><h4>Needing attention</h4><p id="fleet-attention-count">${f.attention_total} device${f.attention_total === 1 ? "" : "s"}` +
        `${f.attention_total > f.attention.length ? ` (the first ${f.attention.length} shown)` : ""}</p>` +
        `<ul id="fleet-attention">${att.map((d) => `<li class="attention" data-eui="${esc(d.dev_eui)}" data-health="${esc(d.health)}">` +
          `<a href="#/device/${esc(d.dev_eui)}"><b>${esc(d.name || d.dev_eui)}</b></a> <small>${esc(d.lifecycle)}, last seen ${ago(d.last_seen_ns)}</small><br>` +
          `${reasons(d)}</li>`).join("")}</ul>` +
        `<h4>Open alarms</h4>` + (al.ok ? (al.json.next ? `<p>the newest ${alarms.length} shown</p>` : "") : `<p class="error">${esc(errorText(al))}</p>`) +
        `<ul id="fleet-alarms">${alarms.map((a) => alarmItem(a, names, canAck)).join("") || "<li>none</li>"}</ul>`;
      for (const b of box.querySelectorAll("button.ack")) b.addEventListener("click", () => ack(panel, b));
      // the map, coloured by health
      const legend = panel.querySelector("#fleet-map-note");
      if (h.error) {
        legend.textContent = `map colours unavailable: ${h.error}`;
      } else {
        mapView.colourBy((eui) => COLOUR[h.all.get(eui)?.health]);
        const located = [...h.all.keys()].filter((e) => mapView.lastPos.has(e)).length;
        legend.textContent = `${located} of ${h.all.size} devices located (on the map)`;
      }
    } finally {
      busy = false;
      if (again && panel.isConnected) {
        again = false;
        load(panel);
      }
    }
  };
  const ack = async (panel, b) => {
    b.disabled = true;
    const li = b.closest("li");
    const r = await request("POST", path`/api/alarms/${b.dataset.id}/ack`, { by: who(me), note: "acknowledged in the console" });
    if (!r.ok) {
      li.querySelector(".error").textContent = errorText(r);
      b.disabled = false;
      return;
    }
    await load(panel);
  };
  return {
    html: `${nav}<h3>Fleet</h3><p class="legend">${HEALTH.map(([hl, c, what]) =>
      `<span class="swatch" style="background:${c}"></span> ${esc(what)}`).join(" · ")}<br><small id="fleet-map-note"></small></p>` +
      `<div id="fleet-body"><p>loading…</p></div>`,
    async mount(panel) {
      panelRef = panel;
      await load(panel);
    },
    refresh() { /* at most every 2 s: the health of every device is one read per 1,000 */
      if (!panelRef || timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (panelRef.isConnected) load(panelRef);
      }, Math.max(0, 2000 - (Date.now() - last)));
    },
    leave() {
      clearTimeout(timer);
      panelRef = null;
      mapView.colourBy(null);
    },
  };
}

// ---- a device's timeline: the first 50 entries, then "older" pages
const KIND_TEXT = { join: "join", reset: "reset", config: "configuration", alarm: "alarm", lifecycle: "life cycle" };

function entry(e) {
  const what = e.kind === "config" ? `${esc(e.field)} ${esc(e.action)}${e.value !== null && e.value !== undefined ? ` = <code>${esc(JSON.stringify(e.value))}</code>` : ""}`
    : e.kind === "alarm" ? `${esc(e.alarm_kind)} ${esc(e.action)}` : esc(e.action);
  return `<li class="tl tl-${esc(e.kind)}" data-kind="${esc(e.kind)}" data-action="${esc(e.action)}"` +
    (e.alarm_id ? ` data-alarm-id="${e.alarm_id}"` : "") + `><time>${when(e.time_ns)}</time> ` +
    `<b>${KIND_TEXT[e.kind] ?? esc(e.kind)}</b>: ${what}${e.detail ? ` <small>${esc(e.detail)}</small>` : ""}</li>`;
}

export function timeline(eui) {
  let next = null;
  const page = async (panel, more) => {
    const r = await get(`/api/devices/${encodeURIComponent(eui)}/timeline?limit=50${more && next ? `&after=${next}` : ""}`);
    const list = panel.querySelector("#timeline");
    if (!list) return;
    if (!r.ok) return void (list.innerHTML = `<li class="error">${esc(errorText(r))}</li>`);
    const html = r.json.items.map(entry).join("");
    if (more) list.insertAdjacentHTML("beforeend", html);
    else list.innerHTML = html || "<li>nothing yet</li>";
    next = r.json.next;
    panel.querySelector("#timeline-older").hidden = !next;
  };
  let older = false; // once older pages are shown, a refresh leaves the list as it is
  return {
    html: `<h4>Timeline</h4><ol id="timeline" class="timeline"></ol>` +
      `<p><button type="button" id="timeline-older" hidden>older</button></p>`,
    mount(panel) {
      panel.querySelector("#timeline-older").addEventListener("click", () => {
        older = true;
        page(panel, true);
      });
      return page(panel, false);
    },
    refresh: (panel) => (older ? undefined : page(panel, false)),
  };
}
