// The operator's console: log in with an API key (or none, where the API is open), then
// the live map, a side panel of pages (devices, the fleet dashboard, gateways, profiles,
// applications, their add/edit/delete forms, a device's downlink queue and timeline) and
// the live frame log. Plain ES
// modules, no build step; everything is served by lorageo (Leaflet from web/node_modules).
//
// One refresh at a time from /api/map (after the first, only the devices located since:
// ?since=); /api/stream's "update" starts one, its "error" goes to the frame log, and any
// message of it lets the frame log ask for new events.
import { errorText, get, headers, token } from "./api.js";
import * as fleet from "./fleet.js";
import * as framelog from "./framelog.js";
import * as mapView from "./map.js";
import * as pages from "./pages.js";
import { esc } from "./ui.js";

// A ?token= in the URL (older links) moves into this tab's session storage and out of sight.
const fromUrl = new URLSearchParams(location.search).get("token");
if (fromUrl) token.set(fromUrl);
if (location.search.includes("token=")) history.replaceState(null, "", location.pathname + location.hash);

const panel = document.getElementById("list");
const status = document.getElementById("status");
const ctx = { me: null };
window.lorageo = {
  devices: mapView.devices, map: mapView.map, gatewayLayer: mapView.gatewayLayer, rawLayer: mapView.rawLayer,
  draw: (data) => mapView.draw(data), console: { ctx, render: () => render(true) },
};
const rawToggle = document.getElementById("raw");
rawToggle.addEventListener("change", () => (rawToggle.checked ? mapView.rawLayer.addTo(mapView.map) : mapView.rawLayer.remove()));

// ---- logging in: GET /api/whoami with the key says what it may do
function loginForm(message = "") {
  panel.innerHTML = `<h3>Log in</h3><form id="login"><label for="login-key">API key (or the server's [api] token)</label>` +
    `<input id="login-key" name="key" type="password" autocomplete="current-password">` +
    `<button type="submit">log in</button><p id="login-error" class="error" role="alert">${esc(message)}</p></form>` +
    `<p><small>Make a key with <code>lorageo apikey add --name NAME</code> (or an admin's console/API). ` +
    `It is kept for this browser tab only.</small></p>`;
  panel.querySelector("#login").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = panel.querySelector("#login-key").value.trim();
    if (!key) return void (panel.querySelector("#login-error").textContent = "enter an API key");
    const before = token.get();
    token.set(key);
    const r = await get("/api/whoami");
    if (!r.ok) {
      token.set(before);
      panel.querySelector("#login-error").textContent = r.status === 401 ? `refused: ${r.json?.error ?? "unknown key"}` : errorText(r);
      return;
    }
    await start(r.json);
  });
  panel.querySelector("#login-key").focus();
}

function showWho() {
  const me = ctx.me, who = document.getElementById("who");
  if (!me) return void (who.innerHTML = "");
  const scope = me.admin ? "admin" : `application ${me.application_id}`;
  const what = me.auth === "open" ? "open API (no key)" : `${me.key_name ? `key “${esc(me.key_name)}”: ` : ""}${scope}, ${me.read_only ? "read-only" : "read-write"}`;
  who.innerHTML = `<span id="scope">${what}</span> <button type="button" id="logout">${me.auth === "open" ? "log in with a key" : "log out"}</button>`;
  who.querySelector("#logout").addEventListener("click", () => {
    token.set(null);
    ctx.me = null;
    stopLive();
    mapView.clear();
    showWho();
    loginForm();
  });
}

async function start(me) {
  const changed = ctx.me && (ctx.me.key_id !== me.key_id || ctx.me.auth !== me.auth);
  ctx.me = me;
  showWho();
  if (changed) mapView.clear();
  lastId = 0;
  framelog.restart();
  restartLive();
  await render(true);
}

window.addEventListener("lorageo-unauthorized", (e) => {
  if (!ctx.me) return;
  token.set(null);
  ctx.me = null;
  stopLive();
  mapView.clear();
  showWho();
  loginForm(`logged out: ${e.detail ?? "the key is no longer valid"}`);
});

// ---- the panel's pages
let current = null, currentHash = null, renders = 0;
async function render(force = false) {
  if (!ctx.me) return;
  const hash = location.hash || "#/";
  /* a refresh while this page is still being built leaves it to that build: a second build
   * would replace the panel under the user's fingers (what they typed in a form gone) */
  if (!force && hash === currentHash) return void current?.refresh?.();
  const mine = ++renders;
  const [, page, arg] = hash.split("/");
  if (page !== "device") mapView.forgetCentre();
  current?.leave?.();
  currentHash = hash;
  const p = page === "device" ? await pages.devicePage(ctx, decodeURIComponent(arg ?? ""), mapView)
          : page === "fleet" ? fleet.fleetPage(ctx, mapView, pages.nav)
          : page === "gateways" ? pages.gatewaysPage(ctx)
          : page === "gateway" ? await pages.gatewayPage(ctx, decodeURIComponent(arg ?? ""))
          : page === "add" ? await pages.addPage(ctx)
          : page === "profiles" ? await pages.profilesPage(ctx)
          : page === "profile" ? await pages.profilePage(ctx, arg)
          : page === "applications" ? await pages.applicationsPage(ctx)
          : page === "application" ? await pages.applicationPage(ctx, arg)
          : pages.devicesPage(ctx, mapView.lastPos);
  if (hash !== (location.hash || "#/") || mine !== renders) return; /* navigated away, or rebuilt, meanwhile */
  current = p;
  panel.innerHTML = p.html;
  panel.scrollTop = 0;
  await p.mount?.(panel);
}
window.addEventListener("hashchange", () => render(true));

// How good locating is, measured on reference devices (their own GPS against the fixes).
async function showAccuracy() {
  const a = await get("/api/geo/accuracy");
  const m = a.json?.methods?.auto;
  document.getElementById("accuracy").textContent = m
    ? `reference devices: median ${m.median_m.toFixed(0)} m, 90 % within ${m.p90_m.toFixed(0)} m (last ${m.frames} fixes)`
    : "";
}

let busy = false, again = false, lastId = 0;
async function refresh() {
  if (!ctx.me) return;
  if (busy) return void (again = true);
  busy = true;
  try {
    const r = await get(`/api/map?since=${lastId}`);
    if (r.ok) {
      mapView.draw(r.json);
      lastId = r.json.last_id;
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

// The live stream read with fetch, so the key goes in the Authorization header (an
// EventSource cannot send one); reconnects after 2 s; a new key makes a new stream.
let live = null;
function stopLive() {
  live?.abort();
  live = null;
  status.textContent = "logged out";
}
function restartLive() {
  live?.abort();
  const ctl = (live = new AbortController());
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const r = await fetch("/api/stream", { headers: headers(), signal: ctl.signal });
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
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            if (/^event: update$/m.test(block)) refresh();
            const err = /^event: error$/m.test(block) && /^data: (.*)$/m.exec(block);
            if (err) {
              try {
                framelog.error(JSON.parse(err[1]));
              } catch {}
            }
            framelog.poll();
          }
        }
      } catch {}
      if (ctl.signal.aborted) return;
      status.textContent = "reconnecting…";
      await new Promise((res) => setTimeout(res, 2000));
    }
  })();
}

// ---- at load: an open API or a kept key goes straight in; otherwise the login form
(async () => {
  const r = await get("/api/whoami");
  if (r.ok) await start(r.json);
  else {
    token.set(null);
    status.textContent = "logged out";
    loginForm(token.get() === null && r.status === 401 && fromUrl ? `refused: ${r.json?.error}` : "");
  }
})();
