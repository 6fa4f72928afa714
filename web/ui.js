// Small helpers of the console's markup: escaping, times, and forms described as data
// (each field a labelled control named as the API's field, so a form reads back as a body).
export const esc = (x) => String(x ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export const when = (ns) => (ns ? new Date(Number(ns) / 1e6).toISOString().replace("T", " ").slice(0, 19) : "never");
export function ago(ns) {
  if (!ns) return "never";
  const s = Math.max(0, Math.round((Date.now() - Number(ns) / 1e6) / 1000));
  return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : when(ns);
}

let ids = 0;
// A field: {name, label, type: text|number|checkbox|select|textarea|password, options:
// [[value, text]], value, hint, step}
function control(f) {
  const id = `f${++ids}-${f.name}`;
  const hint = f.hint ? ` <small>${esc(f.hint)}</small>` : "";
  if (f.type === "checkbox")
    return `<label class="check" for="${id}"><input id="${id}" name="${f.name}" type="checkbox"${f.value ? " checked" : ""}> ${esc(f.label)}${hint}</label>`;
  let input;
  if (f.type === "select")
    input = `<select id="${id}" name="${f.name}">` + f.options.map(([v, t]) =>
      `<option value="${esc(v)}"${String(v) === String(f.value ?? "") ? " selected" : ""}>${esc(t)}</option>`).join("") + `</select>`;
  else if (f.type === "textarea")
    input = `<textarea id="${id}" name="${f.name}" rows="${f.rows ?? 3}">${esc(f.value)}</textarea>`;
  else
    input = `<input id="${id}" name="${f.name}" type="${f.type === "number" ? "text" : f.type ?? "text"}"` +
      `${f.type === "number" ? ' inputmode="decimal"' : ""} value="${esc(f.value)}" autocomplete="off">`;
  return `<label for="${id}">${esc(f.label)}${hint}</label>${input}`;
}

export function form(id, fields, button, extra = "") {
  return `<form id="${id}" class="edit" novalidate>${fields.map(control).join("")}${extra}` +
    `<button type="submit">${esc(button)}</button> <p class="result" role="status" aria-live="polite"></p></form>`;
}

// The form's values as a body: empty fields left out (POST) or sent as null (PATCH: `nulls`,
// for the fields that take null); numbers as numbers; a bad number is an error naming it.
export function values(formEl, fields, { nulls = false } = {}) {
  const body = {};
  for (const f of fields) {
    const el = formEl.elements[f.name];
    if (!el || f.skip) continue;
    if (f.type === "checkbox") {
      body[f.name] = el.checked;
      continue;
    }
    const v = el.value.trim();
    if (v === "") {
      if (nulls && f.nullable) body[f.name] = null;
      else if (nulls && f.keepEmpty) body[f.name] = "";
      continue;
    }
    if (f.type === "number" || f.numeric) {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`${f.name}: expected a number, not '${v}'`);
      body[f.name] = n;
    } else {
      body[f.name] = v;
    }
  }
  return body;
}

// Hex (spaces allowed) to base64; an error saying what is wrong otherwise.
export function hexToBase64(hex) {
  const h = hex.replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new Error("data: expected hex digits in pairs (e.g. 01ff)");
  let bin = "";
  for (let i = 0; i < h.length; i += 2) bin += String.fromCharCode(parseInt(h.slice(i, i + 2), 16));
  return btoa(bin);
}
