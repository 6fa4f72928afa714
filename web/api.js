// The console's one way to the server: the API key kept in sessionStorage (for this tab
// only, never in the URL), sent as "Authorization: Bearer"; every answer comes back as
// {ok, status, json}, and a refusal as the server's own words (errorText).
const KEY = "lorageo_token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => (t ? sessionStorage.setItem(KEY, t) : sessionStorage.removeItem(KEY)),
};

export function headers(extra = {}) {
  const t = token.get();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : { ...extra };
}

// One request: method, path (with its query) and an optional JSON body.
export async function request(method, url, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  let r;
  try {
    r = await fetch(url, init);
  } catch (e) {
    return { ok: false, status: 0, json: { error: `the server cannot be reached (${e.message})` } };
  }
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { error: text.slice(0, 200) };
  }
  if (r.status === 401) window.dispatchEvent(new CustomEvent("lorageo-unauthorized", { detail: json?.error }));
  return { ok: r.ok, status: r.status, json };
}

export const get = (url) => request("GET", url);

// A refused request in words: the server's reason and the status ("refused: dev_eui: ...").
export const errorText = (r) => `refused: ${r.json?.error ?? "no reason given"} (HTTP ${r.status})`;

// A query string of the set values of `o` ("" when none).
export function query(o) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

// An API path with every interpolated part URL-encoded, so an EUI or id taken from the page's
// address can never reach another route: path`/api/devices/${eui}/queue`.
export const path = (strings, ...parts) =>
  strings.reduce((s, str, i) => s + str + (i < parts.length ? encodeURIComponent(String(parts[i])) : ""), "");
