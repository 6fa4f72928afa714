// The console's pages, one per hash route. A page is {html, mount(panel), refresh()}:
// the panel gets html once (so what is typed into a form stays), mount wires it, and
// refresh (after each live update) reloads only what is read from the server, never a
// form. Edit controls appear only where the key's scope (GET /api/whoami) may write; a
// write the server refuses anyway shows the server's reason.
import { errorText, get, path, query, request } from "./api.js";
import { timeline } from "./fleet.js";
import { ago, esc, form, hexToBase64, values, when } from "./ui.js";

const PAGE = 50; // devices and gateways per page
const ADR = [["off", "off"], ["standard", "standard"], ["eadr", "E-ADR (mobility-aware)"], ["predictive", "predictive"]];
const INHERIT = ["", "from the profile"];

// What the scope may do: write (read-write key), admin (every application).
const can = (ctx) => ({ write: !ctx.me.read_only, admin: ctx.me.admin, adminWrite: ctx.me.admin && !ctx.me.read_only });

export const nav = `<nav aria-label="Console sections"><a href="#/">devices</a> · <a href="#/fleet">fleet</a> · <a href="#/gateways">gateways</a> · ` +
  `<a href="#/profiles">profiles</a> · <a href="#/applications">applications</a> · <a href="#/add">add</a></nav>`;

function result(formEl, text, ok) {
  const p = formEl.querySelector(".result");
  p.textContent = text;
  p.classList.toggle("ok", !!ok);
}

// Sends a form's body; "ok" text on success, the server's reason otherwise. The answer.
async function send(formEl, method, url, body, okText) {
  const r = await request(method, url, body);
  result(formEl, r.ok ? okText : errorText(r), r.ok);
  return r;
}

// Submit handler that turns a thrown Error (bad input) into the form's message.
function onSubmit(formEl, fn) {
  formEl.addEventListener("submit", async (e) => {
    e.preventDefault();
    result(formEl, "");
    try {
      await fn(formEl);
    } catch (err) {
      result(formEl, `refused: ${err.message}`);
    }
  });
}

// A two-step delete: the button asks, the second one does it.
function deleteControl(id, what) {
  return `<p><button type="button" id="${id}" class="danger">delete ${esc(what)}</button>` +
    `<span id="${id}-confirm" hidden> really? <button type="button" id="${id}-yes" class="danger">yes, delete</button></span>` +
    `<span id="${id}-result" class="error" role="status"></span></p>`;
}
function wireDelete(panel, id, url, after) {
  const b = panel.querySelector(`#${id}`);
  if (!b) return;
  b.addEventListener("click", () => (panel.querySelector(`#${id}-confirm`).hidden = false));
  panel.querySelector(`#${id}-yes`).addEventListener("click", async () => {
    const r = await request("DELETE", url);
    if (r.ok) location.hash = after;
    else panel.querySelector(`#${id}-result`).textContent = errorText(r);
  });
}

async function pickers() {
  const [apps, profiles] = await Promise.all([get("/api/applications?limit=1000"), get("/api/device-profiles?limit=1000")]);
  return { apps: apps.ok ? apps.json.items : [], profiles: profiles.ok ? profiles.json.items : [] };
}

// ---- paged, searchable lists (devices, gateways)
function pagedList({ id, title, label, url, item, extra = "", every = 0, ctx }) {
  const st = { cursors: [null], at: 0, q: "", next: null };
  let timer = null;
  const load = async (panel) => {
    const r = await get(url + query({ limit: PAGE, q: st.q, after: st.cursors[st.at] }));
    const box = panel.querySelector(`#${id}-results`);
    if (!box) return;
    if (!r.ok) return void (box.innerHTML = `<p class="error">${esc(errorText(r))}</p>`);
    st.next = r.json.next;
    box.innerHTML = r.json.items.length ? r.json.items.map((x) => item(x, ctx)).join("") : `<p>none${st.q ? " match" : ""}</p>`;
    panel.querySelector(`#${id}-page`).textContent = `page ${st.at + 1}, ${r.json.items.length} shown`;
    panel.querySelector(`#${id}-prev`).disabled = st.at === 0;
    panel.querySelector(`#${id}-next`).disabled = !st.next;
  };
  let panelRef = null;
  return {
    html: `${nav}<h3>${esc(title)}</h3>${extra}` +
      `<form id="${id}-search-form" role="search"><label for="${id}-search">${esc(label)}</label>` +
      `<input id="${id}-search" type="search" autocomplete="off"></form>` +
      `<div id="${id}-results" class="results"></div>` +
      `<div class="pager"><button type="button" id="${id}-prev">previous</button> <span id="${id}-page"></span> ` +
      `<button type="button" id="${id}-next">next</button></div>`,
    async mount(panel) {
      panelRef = panel;
      let typing = null;
      const input = panel.querySelector(`#${id}-search`);
      const search = () => {
        st.q = input.value.trim();
        st.cursors = [null];
        st.at = 0;
        load(panel);
      };
      input.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(search, 250); });
      panel.querySelector(`#${id}-search-form`).addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(typing); search(); });
      panel.querySelector(`#${id}-next`).addEventListener("click", () => {
        if (!st.next) return;
        st.cursors[++st.at] = st.next;
        load(panel);
      });
      panel.querySelector(`#${id}-prev`).addEventListener("click", () => {
        if (st.at === 0) return;
        st.at--;
        load(panel);
      });
      if (every) timer = setInterval(() => panelRef?.isConnected && load(panelRef), every);
      await load(panel);
    },
    refresh: () => panelRef && load(panelRef),
    leave: () => clearInterval(timer),
  };
}

export function devicesPage(ctx, lastPos) {
  return pagedList({
    ctx, id: "devices", title: "Devices", label: "Search devices (DevEUI or name)", url: "/api/devices",
    extra: can(ctx).write ? `<p><a href="#/add">add a device</a></p>` : "",
    item: (d) => {
      const p = lastPos.get(d.dev_eui);
      return `<div class="device" data-eui="${esc(d.dev_eui)}"><a href="#/device/${esc(d.dev_eui)}"><b>${esc(d.name || d.dev_eui)}</b></a> ` +
        `<small>${esc(d.dev_eui)}</small><br>last seen ${when(d.last_seen_ns)}` +
        (p ? `<br>${p.latitude.toFixed(5)}, ${p.longitude.toFixed(5)} ±${p.accuracy_m.toFixed(0)} m` : "") + `</div>`;
    },
  });
}

export function gatewaysPage(ctx) {
  return pagedList({
    ctx, id: "gateways", title: "Gateways", label: "Search gateways (EUI or name)", url: "/api/gateways", every: 5000,
    extra: `<p><small>online: seen (a stat, a PULL_DATA keep-alive or an uplink) within the last ${ctx.me.gateway_online_s} s</small></p>` +
      (can(ctx).adminWrite ? `<p><a href="#/add">add a gateway</a></p>` : ""),
    item: (g) => `<div class="gw" data-eui="${esc(g.gateway_eui)}"><a href="#/gateway/${esc(g.gateway_eui)}"><b>${esc(g.name || g.gateway_eui)}</b></a> ` +
      `${esc(g.gateway_eui)} <span class="badge ${g.online ? "online" : "offline"}">${g.online ? "online" : "offline"}</span><br>` +
      `${g.latitude == null ? "no position" : `${g.latitude.toFixed(5)}, ${g.longitude.toFixed(5)}`}<br>` +
      `last seen ${ago(g.last_seen_ns)} · ${g.rx_packets} frames</div>`,
  });
}

// ---- one device: its settings, edit, delete, the downlink queue, its uplinks, its timeline
const deviceEditFields = (d, pk, ctx) => {
  const inh = new Set(d.inherited ?? []);
  const f = [{ name: "name", label: "Name", value: d.name, keepEmpty: true }];
  if (ctx.me.admin)
    f.push({ name: "application_id", label: "Application", type: "select", numeric: true, value: d.application_id,
             options: pk.apps.map((a) => [a.id, `${a.name} (${a.id})`]) });
  f.push({ name: "profile_id", label: "Device profile", type: "select", numeric: true, nullable: true, value: d.profile_id ?? "",
           options: [["", "none"], ...pk.profiles.map((p) => [p.id, `${p.name} (${p.id})`])] },
         { name: "class", label: "Class", type: "select", nullable: true, value: inh.has("class") ? "" : d.class,
           options: [INHERIT, ["A", "A"], ["C", "C"]] },
         { name: "adr", label: "ADR", type: "select", nullable: true, value: inh.has("adr") ? "" : d.adr, options: [INHERIT, ...ADR] },
         { name: "reference", label: "Reference device (carries its GPS position)", type: "select", nullable: true, bool: true,
           value: inh.has("reference") ? "" : String(d.reference), options: [INHERIT, ["true", "yes"], ["false", "no"]] });
  return f;
};

const queueFields = (codec) => [
  { name: "f_port", label: "FPort (1..223)", type: "number", value: "1" },
  { name: "format", label: "Data as", type: "select", skip: true, value: "hex",
    options: [["hex", "hex"], ["base64", "base64"], ...(codec ? [["object", `JSON object (encoded by ${codec})`]] : [])] },
  { name: "data", label: "Data", type: "textarea", skip: true, rows: 2 },
  { name: "confirmed", label: "confirmed (the device acknowledges it)", type: "checkbox" },
];

export async function devicePage(ctx, eui, map) {
  const r = await get(`/api/devices/${encodeURIComponent(eui)}`);
  if (!r.ok) return { html: `${nav}<p class="error">${esc(errorText(r))}</p>` };
  const d = r.json;
  const c = can(ctx);
  const pk = c.write ? await pickers() : { apps: [], profiles: [] };
  let codec = "";
  if (d.profile_id) {
    const p = await get(path`/api/device-profiles/${d.profile_id}`);
    codec = p.ok ? p.json.payload_codec : "";
  }
  const editF = deviceEditFields(d, pk, ctx), qF = queueFields(codec);
  const rows = [["DevEUI", d.dev_eui], ["activation", d.activation], ["DevAddr", d.dev_addr], ["application", d.application_id],
    ["profile", d.profile_id ?? "none"], ["class", d.class], ["ADR", d.adr], ["last seen", when(d.last_seen_ns)],
    ["data rate", "DR?"], ["TX power index", d.tx_power_index], ["battery", d.battery == null ? "unknown" : d.battery],
    ["link margin", d.margin_db == null ? "unknown" : `${d.margin_db} dB`], ["next FCnt", d.f_cnt_up_next]];
  let panelRef = null;
  const located = map.centreOn(d.dev_eui);
  const tl = timeline(d.dev_eui);
  const loadLive = async (panel) => {
    const [ups, queue] = await Promise.all([get(path`/api/devices/${eui}/uplinks?limit=10`), get(path`/api/devices/${eui}/queue`)]);
    const u = ups.ok ? ups.json.items : [];
    const box = panel.querySelector("#uplinks");
    if (!box) return;
    panel.querySelector("#device-dr").textContent = `DR${u[0]?.dr ?? "?"}`;
    box.innerHTML = u.map((x) => `<div class="uplink">FCnt ${x.f_cnt} · ${(x.frequency / 1e6).toFixed(1)} MHz · DR${x.dr}` +
      (x.object ? ` · <code>${esc(JSON.stringify(x.object))}</code>` : "") + `<ul>` +
      x.rx_info.map((rx) => `<li class="rx">${esc(rx.gateway_eui)}: ${rx.rssi} dBm, SNR ${rx.snr} dB${rx.late ? " (late)" : ""}</li>`).join("") +
      `</ul></div>`).join("") || "<p>none yet</p>";
    const q = queue.ok ? queue.json.items : [];
    panel.querySelector("#queue-list").innerHTML = q.length
      ? q.map((x) => `<li class="queued">port ${x.f_port}: ${esc(x.data)}${x.confirmed ? " (confirmed)" : ""}</li>`).join("")
      : "<li>empty</li>";
    if (!located) { /* the map may have brought a position since */
      const p = map.lastPos.get(d.dev_eui);
      if (p) panel.querySelector("#device-position").textContent = `${p.latitude.toFixed(5)}, ${p.longitude.toFixed(5)} ±${p.accuracy_m.toFixed(0)} m`;
    }
  };
  const pos = map.lastPos.get(d.dev_eui);
  return {
    html: `${nav}<h3>${esc(d.name || d.dev_eui)}</h3><table>` +
      rows.map(([k, v]) => `<tr><th>${k}</th><td${k === "data rate" ? ' id="device-dr"' : ""}>${esc(v)}</td></tr>`).join("") +
      `<tr><th>position</th><td id="device-position">${pos ? `${pos.latitude.toFixed(5)}, ${pos.longitude.toFixed(5)} ±${pos.accuracy_m.toFixed(0)} m` : "not located yet"}</td></tr></table>` +
      (c.write ? `<h4>Edit</h4>` + form("edit-device", editF, "save") + deleteControl("delete-device", "device") +
        `<h4>Queue a downlink</h4>` + form("queue-form", qF, "queue", `<p><small>hex: 01ff…; base64: Af8=; object: {"led": 1}</small></p>`) : "") +
      `<h4>Queue</h4><ul id="queue-list"></ul>` +
      (c.write ? `<p><button type="button" id="queue-flush">empty the queue</button> <span id="queue-flush-result" role="status"></span></p>` : "") +
      `<h4>Uplinks</h4><div id="uplinks"></div>` + tl.html,
    async mount(panel) {
      panelRef = panel;
      const edit = panel.querySelector("#edit-device");
      if (edit) onSubmit(edit, async (f) => {
        const body = values(f, editF, { nulls: true });
        if (typeof body.reference === "string") body.reference = body.reference === "true";
        const res = await send(f, "PATCH", path`/api/devices/${eui}`, body, "saved");
        if (res.ok) panel.querySelector("h3").textContent = res.json.name || res.json.dev_eui;
      });
      wireDelete(panel, "delete-device", path`/api/devices/${eui}`, "#/");
      const qf = panel.querySelector("#queue-form");
      if (qf) onSubmit(qf, async (f) => {
        const body = values(f, qF);
        const how = f.elements.format.value, text = f.elements.data.value.trim();
        if (how === "object") {
          try {
            body.object = JSON.parse(text);
          } catch (e) {
            throw new Error(`object: not JSON (${e.message})`);
          }
        } else {
          body.data = how === "hex" ? hexToBase64(text) : text;
        }
        const res = await send(f, "POST", path`/api/devices/${eui}/queue`, body, "queued");
        if (res.ok) loadLive(panel);
      });
      panel.querySelector("#queue-flush")?.addEventListener("click", async () => {
        const res = await request("DELETE", path`/api/devices/${eui}/queue`);
        panel.querySelector("#queue-flush-result").textContent = res.ok ? `${res.json.deleted} removed` : errorText(res);
        loadLive(panel);
      });
      await Promise.all([loadLive(panel), tl.mount(panel)]);
    },
    refresh: () => panelRef && Promise.all([loadLive(panelRef), tl.refresh(panelRef)]),
  };
}

// ---- one gateway
const gatewayFields = (g = {}, add = false) => [
  ...(add ? [{ name: "gateway_eui", label: "Gateway EUI (16 hex digits)" }] : []),
  { name: "name", label: "Name", value: g.name ?? "", keepEmpty: true },
  { name: "latitude", label: "Latitude (°)", type: "number", nullable: true, value: g.latitude ?? "" },
  { name: "longitude", label: "Longitude (°)", type: "number", nullable: true, value: g.longitude ?? "" },
  { name: "altitude", label: "Altitude (m)", type: "number", nullable: true, value: g.altitude ?? "" },
];

// What ADR learned of a gateway's links (GET .../links): cells, and the range of their levels.
function linksText(l) {
  if (!l) return "not available";
  const laws = l.items.filter((x) => x.level_db !== null).map((x) => x.level_db);
  if (l.total === 0) return "none yet (learned from static devices on predictive ADR)";
  return `${l.total} cells of ${l.cell_m} m` + (laws.length
    ? `, ${laws.length} with enough uplinks: RSSI - TX power ${Math.min(...laws)} to ${Math.max(...laws)} dB`
    : ", none with enough uplinks yet");
}

export async function gatewayPage(ctx, eui) {
  const [r, lr] = await Promise.all([get(`/api/gateways/${encodeURIComponent(eui)}`),
                                     get(`/api/gateways/${encodeURIComponent(eui)}/links`)]);
  if (!r.ok) return { html: `${nav}<p class="error">${esc(errorText(r))}</p>` };
  const g = r.json, c = can(ctx), f = gatewayFields(g);
  return {
    html: `${nav}<h3>${esc(g.name || g.gateway_eui)} <span class="badge ${g.online ? "online" : "offline"}">${g.online ? "online" : "offline"}</span></h3>` +
      `<table><tr><th>EUI</th><td>${esc(g.gateway_eui)}</td></tr><tr><th>last seen</th><td>${ago(g.last_seen_ns)}</td></tr>` +
      `<tr><th>frames</th><td>${g.rx_packets}</td></tr>` +
      `<tr><th>links learned</th><td class="links">${esc(linksText(lr.ok ? lr.json : null))}</td></tr></table>` +
      (c.adminWrite ? `<h4>Edit</h4>` + form("edit-gateway", f, "save") + deleteControl("delete-gateway", "gateway") : ""),
    mount(panel) {
      const e = panel.querySelector("#edit-gateway");
      if (e) onSubmit(e, (fe) => send(fe, "PATCH", path`/api/gateways/${eui}`, values(fe, f, { nulls: true }), "saved"));
      wireDelete(panel, "delete-gateway", path`/api/gateways/${eui}`, "#/gateways");
    },
  };
}

// ---- the add forms: a device (any read-write key), a gateway (admin)
export async function addPage(ctx) {
  const c = can(ctx);
  if (!c.write) return { html: `${nav}<p>This key reads only: adding needs a read-write key.</p>` };
  const pk = await pickers();
  const devF = [
    { name: "dev_eui", label: "DevEUI (16 hex digits)" },
    { name: "name", label: "Name" },
    ...(ctx.me.admin ? [{ name: "application_id", label: "Application", type: "select", numeric: true, value: 1,
                          options: pk.apps.map((a) => [a.id, `${a.name} (${a.id})`]) }] : []),
    { name: "profile_id", label: "Device profile", type: "select", numeric: true, options: [["", "none"], ...pk.profiles.map((p) => [p.id, `${p.name} (${p.id})`])] },
    { name: "class", label: "Class", type: "select", options: [INHERIT, ["A", "A"], ["C", "C"]] },
    { name: "adr", label: "ADR", type: "select", options: [INHERIT, ...ADR] },
    { name: "join_eui", label: "OTAA: JoinEUI (16 hex digits)" },
    { name: "app_key", label: "OTAA: AppKey (32 hex digits)", type: "password" },
    { name: "dev_addr", label: "ABP: DevAddr (8 hex digits)" },
    { name: "nwk_s_key", label: "ABP: NwkSKey (32 hex digits)", type: "password" },
    { name: "app_s_key", label: "ABP: AppSKey (32 hex digits)", type: "password" },
    { name: "reference", label: "Reference device", type: "select", bool: true, options: [INHERIT, ["true", "yes"], ["false", "no"]] },
  ];
  const gwF = gatewayFields({}, true);
  return {
    html: `${nav}<h3>Add a device</h3><p><small>OTAA: DevEUI, JoinEUI, AppKey. ABP: DevEUI, DevAddr, NwkSKey, AppSKey.</small></p>` +
      form("add-device", devF, "add") +
      (c.adminWrite ? `<h3>Add a gateway</h3>` + form("add-gateway", gwF, "add") : ""),
    mount(panel) {
      onSubmit(panel.querySelector("#add-device"), (f) => {
        const body = values(f, devF);
        if (typeof body.reference === "string") body.reference = body.reference === "true";
        return send(f, "POST", "/api/devices", body, "added");
      });
      const g = panel.querySelector("#add-gateway");
      if (g) onSubmit(g, (f) => send(f, "POST", "/api/gateways", values(f, gwF), "added"));
    },
  };
}

// ---- device profiles
const profileFields = (p = {}) => [
  { name: "name", label: "Name", value: p.name ?? "" },
  { name: "class", label: "Class", type: "select", value: p.class ?? "A", options: [["A", "A"], ["C", "C"]] },
  { name: "mac_version", label: "LoRaWAN MAC version", type: "select", value: p.mac_version ?? "1.0.3",
    options: ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.1.0"].map((v) => [v, v]) },
  { name: "adr_algorithm", label: "ADR algorithm", type: "select", value: p.adr_algorithm ?? "standard", options: ADR },
  { name: "adr_margin_db", label: "ADR margin (dB; empty: the server's)", type: "number", nullable: true, value: p.adr_margin_db ?? "" },
  { name: "uplink_interval_s", label: "Expected uplink interval (s)", type: "number", nullable: true, value: p.uplink_interval_s ?? "" },
  { name: "payload_codec", label: "Payload codec (cayenne_lpp, js:NAME; empty: none)", value: p.payload_codec ?? "", keepEmpty: true },
  { name: "max_downlinks_per_day", label: "Max downlinks per day", type: "number", nullable: true, value: p.max_downlinks_per_day ?? "" },
  { name: "max_uplinks_per_day", label: "Max uplinks per day", type: "number", nullable: true, value: p.max_uplinks_per_day ?? "" },
  { name: "reference", label: "Reference devices (they carry their GPS position)", type: "checkbox", value: p.reference },
];

export async function profilesPage(ctx) {
  const r = await get("/api/device-profiles?limit=1000");
  const c = can(ctx), f = profileFields();
  const list = r.ok ? r.json.items.map((p) => `<div class="profile" data-id="${p.id}"><a href="#/profile/${p.id}"><b>${esc(p.name)}</b></a> ` +
    `class ${p.class} · ADR ${esc(p.adr_algorithm)}${p.payload_codec ? ` · codec ${esc(p.payload_codec)}` : ""}</div>`).join("") || "<p>none</p>"
    : `<p class="error">${esc(errorText(r))}</p>`;
  return {
    html: `${nav}<h3>Device profiles</h3>${list}` + (c.adminWrite ? `<h3>Add a profile</h3>` + form("add-profile", f, "add") : ""),
    mount(panel) {
      const a = panel.querySelector("#add-profile");
      if (a) onSubmit(a, async (fe) => {
        const res = await send(fe, "POST", "/api/device-profiles", values(fe, f), "added");
        if (res.ok) location.hash = `#/profile/${res.json.id}`;
      });
    },
  };
}

export async function profilePage(ctx, id) {
  const r = await get(`/api/device-profiles/${encodeURIComponent(id)}`);
  if (!r.ok) return { html: `${nav}<p class="error">${esc(errorText(r))}</p>` };
  const p = r.json, c = can(ctx), f = profileFields(p);
  return {
    html: `${nav}<h3>Profile ${esc(p.name)}</h3><p>region ${esc(p.region)} · id ${p.id}</p>` +
      (c.adminWrite ? form("edit-profile", f, "save") + deleteControl("delete-profile", "profile")
        : `<table>${f.map((x) => `<tr><th>${esc(x.label)}</th><td>${esc(p[x.name] ?? "–")}</td></tr>`).join("")}</table>`),
    mount(panel) {
      const e = panel.querySelector("#edit-profile");
      if (e) onSubmit(e, (fe) => send(fe, "PATCH", path`/api/device-profiles/${id}`, values(fe, f, { nulls: true }), "saved"));
      wireDelete(panel, "delete-profile", path`/api/device-profiles/${id}`, "#/profiles");
    },
  };
}

// ---- applications
const appFields = (a = {}) => [
  { name: "name", label: "Name", value: a.name ?? "" },
  { name: "description", label: "Description", value: a.description ?? "", keepEmpty: true },
];

export async function applicationsPage(ctx) {
  const r = await get("/api/applications?limit=1000");
  const c = can(ctx), f = appFields();
  const list = r.ok ? r.json.items.map((a) => `<div class="application" data-id="${a.id}"><a href="#/application/${a.id}"><b>${esc(a.name)}</b></a> ` +
    `(${a.id}) · ${a.devices} device${a.devices === 1 ? "" : "s"}<br><small>${esc(a.description)}</small></div>`).join("") || "<p>none</p>"
    : `<p class="error">${esc(errorText(r))}</p>`;
  return {
    html: `${nav}<h3>Applications</h3>${list}` + (c.adminWrite ? `<h3>Add an application</h3>` + form("add-application", f, "add") : ""),
    mount(panel) {
      const a = panel.querySelector("#add-application");
      if (a) onSubmit(a, async (fe) => {
        const res = await send(fe, "POST", "/api/applications", values(fe, f), "added");
        if (res.ok) location.hash = `#/application/${res.json.id}`;
      });
    },
  };
}

export async function applicationPage(ctx, id) {
  const r = await get(`/api/applications/${encodeURIComponent(id)}`);
  if (!r.ok) return { html: `${nav}<p class="error">${esc(errorText(r))}</p>` };
  const a = r.json, c = can(ctx), f = appFields(a);
  return {
    html: `${nav}<h3>Application ${esc(a.name)}</h3><p>id ${a.id} · ${a.devices} devices · ` +
      `<a href="#/" data-app="${a.id}">its devices are in the device list</a></p><p>${esc(a.description)}</p>` +
      (c.write ? form("edit-application", f, "save") : "") + (c.adminWrite ? deleteControl("delete-application", "application") : ""),
    mount(panel) {
      const e = panel.querySelector("#edit-application");
      if (e) onSubmit(e, (fe) => send(fe, "PATCH", path`/api/applications/${id}`, values(fe, f, { nulls: true }), "saved"));
      wireDelete(panel, "delete-application", path`/api/applications/${id}`, "#/applications");
    },
  };
}
