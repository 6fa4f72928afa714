// Issue 18 items 1, 2 and 5 through the real server: applications and scoped API keys (each
// access rule), device profiles (what they give their devices, and a change reaching them at
// their next uplink), PATCH, pagination with filters, 404 on every sub-path, the queue,
// confirmed downlinks nacked with a `nack` event, time_ns as a string, unknown keys refused.
// Usage: node apps.mjs path/to/lorageo
import lora from "lora-packet";
import {
  ABP, app, armTimeout, base, check, clock, dataUp, frameFromAll, gateways, nwk, pull, pullResps,
  server, sleep, start, stop, tally, waitHealthy,
} from "./harness.mjs";

armTimeout(120000);
const ADMIN = "admin-secret-token", READER = "reader-secret-token";
const call = async (token, method, url, body) => {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(base + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text };
};
const admin = (m, u, b) => call(ADMIN, m, u, b);
const otaa = (eui, extra = {}) => ({ dev_eui: eui, join_eui: "70b3d57ed0000000", app_key: "00112233445566778899aabbccddeeff", ...extra });
const isErr = (r, status, word) => r.status === status && typeof r.json?.error === "string" && (!word || r.json.error.includes(word));

try {
  start({ LORAGEO_API_TOKEN: ADMIN, LORAGEO_API_READ_TOKEN: READER, LORAGEO_NETWORK_ACK_UPLINKS: "1" });
  await waitHealthy();
  for (const g of gateways)
    check((await admin("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt })).status === 201, "gateway provisioned");

  // ---- applications: the default one is there; two more
  let r = await admin("GET", "/api/applications");
  check(r.status === 200 && r.json.items[0]?.id === 1 && r.json.items[0]?.name === "default", `default application: ${r.text}`);
  const A = (await admin("POST", "/api/applications", { name: "meters", description: "water meters" })).json;
  const B = (await admin("POST", "/api/applications", { name: "trackers" })).json;
  check(A?.id > 1 && B?.id > A.id, `applications made: ${JSON.stringify([A, B])}`);
  check(isErr(await admin("POST", "/api/applications", { name: "x", owner: "me" }), 400, "'owner'"), "unknown application key named");
  check(isErr(await admin("POST", "/api/applications", {}), 400, "name"), "an application needs a name");

  // ---- devices in each; one without application_id goes to the default
  const devA = "a0000000000000a1", devB = "b0000000000000b1", dev1 = "c0000000000000c1";
  check((await admin("POST", "/api/devices", otaa(devA, { application_id: A.id }))).json?.application_id === A.id, "device in A");
  check((await admin("POST", "/api/devices", otaa(devB, { application_id: B.id }))).json?.application_id === B.id, "device in B");
  check((await admin("POST", "/api/devices", otaa(dev1))).json?.application_id === 1, "device without application_id: the default one");
  check(isErr(await admin("POST", "/api/devices", otaa("c0000000000000c2", { application_id: 999 })), 400, "application_id"), "unknown application refused");
  check(isErr(await admin("POST", "/api/devices", otaa("c0000000000000c3", { profile: 1 })), 400, "'profile'"), "unknown device key named (profile)");

  // ---- API keys: made by an admin, shown once, listed without the key
  const mk = async (body) => (await admin("POST", "/api/api-keys", body)).json;
  const kA = await mk({ name: "meters-rw", application_id: A.id });
  const kAro = await mk({ name: "meters-ro", application_id: A.id, read_only: true });
  const kB = await mk({ name: "trackers-rw", application_id: B.id });
  const kRo = await mk({ name: "ops-ro", read_only: true });
  check(/^lgk_[0-9a-f]{64}$/.test(kA?.key ?? "") && kA.application_id === A.id && kA.read_only === false, `key made: ${JSON.stringify(kA)}`);
  r = await admin("GET", "/api/api-keys");
  check(r.status === 200 && r.json.items.length === 4 && !r.text.includes(kA.key.slice(4, 40)) && r.json.items.every((k) => !("key" in k)),
        "the list holds no key");
  check(isErr(await admin("POST", "/api/api-keys", { name: "x", scope: "all" }), 400, "'scope'"), "unknown key field named");
  check(isErr(await admin("POST", "/api/api-keys", { name: "x", application_id: 999 }), 400, "application_id"), "a key for no application refused");

  // an application's key sees and touches its own application's devices only
  r = await call(kA.key, "GET", "/api/devices");
  check(r.status === 200 && r.json.items.length === 1 && r.json.items[0].dev_eui === devA, `A's key lists A's devices only: ${r.text.slice(0, 200)}`);
  for (const sub of ["", "/uplinks", "/events", "/downlinks", "/adr", "/locations", "/queue"])
    check((await call(kA.key, "GET", `/api/devices/${devB}${sub}`)).status === 404, `A's key: GET B's device${sub} -> 404`);
  check((await call(kA.key, "PATCH", `/api/devices/${devB}`, { name: "mine" })).status === 404, "A's key cannot PATCH B's device");
  check((await call(kA.key, "DELETE", `/api/devices/${devB}`)).status === 404, "A's key cannot DELETE B's device");
  check((await call(kA.key, "POST", `/api/devices/${devB}/queue`, { f_port: 1, data: "AQ==" })).status === 404, "A's key cannot queue for B's device");
  check((await admin("GET", `/api/devices/${devB}`)).json?.name === "", "B's device untouched");
  check(isErr(await call(kA.key, "POST", "/api/devices", otaa("a0000000000000a2", { application_id: B.id })), 403, "application"), "A's key cannot add to B");
  r = await call(kA.key, "POST", "/api/devices", otaa("a0000000000000a2"));
  check(r.status === 201 && r.json.application_id === A.id, `A's key adds to A by default: ${r.text}`);
  check((await call(kA.key, "PATCH", `/api/devices/${devA}`, { name: "meter 1" })).json?.name === "meter 1", "A's key renames its device");
  check(isErr(await call(kA.key, "PATCH", `/api/devices/${devA}`, { application_id: B.id }), 403), "A's key cannot move a device to B");
  r = await call(kA.key, "GET", "/api/applications");
  check(r.status === 200 && r.json.items.length === 1 && r.json.items[0].id === A.id && r.json.items[0].devices === 2, `A's key sees application A only: ${r.text}`);
  check((await call(kA.key, "GET", `/api/applications/${B.id}`)).status === 404, "A's key: application B -> 404");
  check(isErr(await call(kA.key, "POST", "/api/applications", { name: "mine" }), 403), "A's key makes no application");
  check(isErr(await call(kA.key, "GET", `/api/devices?application_id=${B.id}`), 403), "A's key cannot filter for B");
  // gateways: read by any key, written by an admin only
  check((await call(kA.key, "GET", "/api/gateways")).status === 200, "A's key reads gateways");
  check(isErr(await call(kA.key, "POST", "/api/gateways", { gateway_eui: "aa555a00000000f9" }), 403, "admin"), "A's key cannot add a gateway");
  check(isErr(await call(kA.key, "PATCH", `/api/gateways/${gateways[0].eui}`, { name: "x" }), 403), "A's key cannot PATCH a gateway");
  check(isErr(await call(kA.key, "DELETE", `/api/gateways/${gateways[0].eui}`), 403), "A's key cannot DELETE a gateway");
  check(isErr(await call(kA.key, "GET", "/api/api-keys"), 403), "A's key cannot list keys");
  check(isErr(await call(kA.key, "GET", "/api/multicast-groups"), 403), "A's key: multicast groups are an admin's");
  check(isErr(await call(kA.key, "POST", "/api/device-profiles", { name: "p" }), 403), "A's key cannot make profiles");
  check((await call(kA.key, "GET", "/api/device-profiles")).status === 200, "A's key reads profiles");
  // read-only keys read and never write
  check((await call(kAro.key, "GET", `/api/devices/${devA}`)).status === 200, "A's read-only key reads");
  check(isErr(await call(kAro.key, "PATCH", `/api/devices/${devA}`, { name: "x" }), 403, "read"), "A's read-only key cannot PATCH");
  check(isErr(await call(kAro.key, "POST", `/api/devices/${devA}/queue`, { f_port: 1, data: "AQ==" }), 403), "A's read-only key cannot queue");
  check(isErr(await call(kRo.key, "POST", "/api/applications", { name: "x" }), 403), "an admin read-only key cannot write");
  check((await call(kRo.key, "GET", `/api/devices/${devB}`)).status === 200, "an admin read-only key reads every application");
  check((await call(READER, "GET", "/api/applications")).json?.items?.length === 3, "[api] read_token still reads all");
  check(isErr(await call(READER, "POST", "/api/applications", { name: "x" }), 403), "[api] read_token still cannot write");
  // revoked keys refused; no key, a wrong one: 401
  check((await admin("DELETE", `/api/api-keys/${kB.id}`)).json?.revoked_ns > 0, "key revoked");
  check(isErr(await call(kB.key, "GET", "/api/devices"), 401), "a revoked key: 401");
  check(isErr(await admin("DELETE", `/api/api-keys/${kB.id}`), 409), "revoked twice: 409");
  check(isErr(await call(kB.key.replace(/.$/, "0"), "GET", "/api/devices"), 401) || kB.key.endsWith("0"), "a wrong key: 401");
  check(isErr(await call(null, "GET", "/api/devices"), 401), "no key: 401");

  // ---- applications: deleting
  check(isErr(await admin("DELETE", `/api/applications/${B.id}`), 409, "devices"), "an application with devices stays");
  check(isErr(await admin("DELETE", "/api/applications/1"), 409, "default"), "the default application stays");
  const C = (await admin("POST", "/api/applications", { name: "empty" })).json;
  const kC = await mk({ name: "empty-rw", application_id: C.id });
  check((await call(kC.key, "GET", "/api/devices")).json?.items?.length === 0, "C's key works while C exists");
  check((await admin("DELETE", `/api/applications/${C.id}`)).status === 200 && (await admin("GET", `/api/applications/${C.id}`)).status === 404, "an empty application deleted");
  check(isErr(await call(kC.key, "GET", "/api/devices"), 401), "its keys revoked with it");
  check((await admin("PATCH", `/api/applications/${A.id}`, { description: "meters, v2" })).json?.name === "meters", "PATCH keeps what it does not give");
  check(isErr(await admin("PATCH", `/api/applications/${A.id}`, { id: 77 }), 400, "id"), "an application's id cannot change");

  // ---- device profiles
  check(isErr(await admin("POST", "/api/device-profiles", { name: "p", region: "US915" }), 400, "region"), "a profile of another region refused");
  check(isErr(await admin("POST", "/api/device-profiles", { name: "p", codec: "lpp" }), 400, "'codec'"), "unknown profile key named");
  check(isErr(await admin("POST", "/api/device-profiles", { name: "p", mac_version: "2.0" }), 400, "mac_version"), "bad MAC version refused");
  const P = (await admin("POST", "/api/device-profiles", { name: "class C meters", class: "C", adr_algorithm: "standard",
    adr_margin_db: 5, mac_version: "1.0.3", uplink_interval_s: 3600, payload_codec: "cayenne_lpp", max_downlinks_per_day: 2 })).json;
  check(P?.id > 0 && P.region === "EU868" && P.class === "C" && P.adr_margin_db === 5 && P.payload_codec === "cayenne_lpp", `profile made: ${JSON.stringify(P)}`);
  // predictive's delivery target by profile (issue 20): a probability, null for the server's
  check(isErr(await admin("POST", "/api/device-profiles", { name: "p", adr_target: 1 }), 400, "adr_target"), "adr_target 1 refused");
  check(isErr(await admin("POST", "/api/device-profiles", { name: "p", adr_target: "high" }), 400, "adr_target"), "adr_target not a number refused");
  check(P.adr_target === null, `no adr_target: the server's (${P.adr_target})`);
  check((await admin("PATCH", `/api/device-profiles/${P.id}`, { adr_target: 0.97 })).json?.adr_target === 0.97 &&
        (await admin("GET", `/api/device-profiles/${P.id}`)).json?.adr_target === 0.97, "adr_target set and read back");
  check((await admin("PATCH", `/api/device-profiles/${P.id}`, { adr_target: null })).json?.adr_target === null, "adr_target: null, the server's again");
  const devP = "d0000000000000d1", devOwn = "d0000000000000d2";
  r = await admin("POST", "/api/devices", otaa(devP, { profile_id: P.id }));
  check(r.json?.class === "C" && r.json?.adr === "standard" && r.json?.profile_id === P.id &&
        JSON.stringify(r.json?.inherited) === '["adr","class","reference"]', `the profile gives class and ADR: ${r.text}`);
  r = await admin("POST", "/api/devices", otaa(devOwn, { profile_id: P.id, class: "A", adr: "off" }));
  check(r.json?.class === "A" && r.json?.adr === "off" && JSON.stringify(r.json?.inherited) === '["reference"]', `its own settings win: ${r.text}`);
  check(isErr(await admin("POST", "/api/devices", otaa("d0000000000000d3", { profile_id: 999 })), 400, "profile_id"), "unknown profile refused");
  check((await admin("PATCH", `/api/device-profiles/${P.id}`, { class: "A" })).json?.class === "A", "profile PATCHed");
  check((await admin("GET", `/api/devices/${devP}`)).json?.class === "A", "the profile's change reaches its device");
  check((await admin("PATCH", `/api/devices/${devOwn}`, { adr: null })).json?.adr === "standard", "adr: null takes the profile's again");
  r = await admin("GET", `/api/devices?profile_id=${P.id}`);
  check(r.json?.items?.length === 2, `filter by profile: ${r.json?.items?.length}`);
  check(isErr(await admin("DELETE", `/api/device-profiles/${P.id}`), 409, "devices"), "a profile in use stays");
  // the daily downlink limit
  check((await admin("POST", `/api/devices/${devP}/queue`, { f_port: 3, data: "AQ==" })).status === 202, "downlink 1 of 2");
  check((await admin("POST", `/api/devices/${devP}/queue`, { f_port: 3, data: "Ag==" })).status === 202, "downlink 2 of 2");
  check(isErr(await admin("POST", `/api/devices/${devP}/queue`, { f_port: 3, data: "Aw==" }), 429, "max_downlinks_per_day"), "downlink 3: the profile's limit");
  // GET and DELETE the queue
  r = await admin("GET", `/api/devices/${devP}/queue`);
  check(r.status === 200 && r.json.items.length === 2 && r.json.items[1].data === "Ag==" && r.json.items[0].f_port === 3, `queue listed: ${r.text}`);
  r = await admin("DELETE", `/api/devices/${devP}/queue`);
  check(r.status === 200 && r.json.deleted === 2, `queue flushed: ${r.text}`);
  check((await admin("GET", `/api/devices/${devP}/queue`)).json?.items?.length === 0, "queue empty");
  check(isErr(await admin("POST", `/api/devices/${devP}/queue`, { f_port: 3, data: "AQ==", priority: 1 }), 400, "'priority'"), "unknown queue key named");

  // ---- 404 for an unknown device on every sub-path; 405 for a known path, other method
  const nobody = "ffffffffffff0001";
  for (const [m, sub] of [["GET", ""], ["PATCH", ""], ["DELETE", ""], ["GET", "/uplinks"], ["GET", "/events"], ["GET", "/downlinks"],
                          ["GET", "/adr"], ["GET", "/locations"], ["GET", "/queue"], ["POST", "/queue"], ["DELETE", "/queue"]])
    check(isErr(await admin(m, `/api/devices/${nobody}${sub}`, m === "GET" || m === "DELETE" ? undefined : { f_port: 1, data: "AQ==" }), 404),
          `${m} unknown device${sub} -> 404`);
  check(isErr(await admin("GET", `/api/gateways/${gateways[0].eui}/nothing`), 404), "a gateway's unknown sub-path -> 404");
  check(isErr(await admin("PUT", `/api/devices/${devA}`, {}), 405, "PATCH"), "PUT -> 405 naming the methods");

  // ---- PATCH a device: what names it or its session is refused with the reason
  check((await admin("POST", "/api/devices", { ...ABP, application_id: A.id, profile_id: P.id })).status === 201, "ABP device with the profile");
  for (const g of gateways) await pull(g);
  for (let f = 1; f <= 3; f++) { await frameFromAll(dataUp(f, `up ${f}`)); await sleep(350); }
  const refused = [[{ dev_eui: "0102030405060799" }, "dev_eui"], [{ app_key: "00112233445566778899aabbccddeeff" }, "activation"],
                   [{ nwk_s_key: "00000000000000000000000000000000" }, "nwk_s_key"], [{ class: "B" }, "class"], [{ adr: "fast" }, "adr"],
                   [{ colour: "red" }, "'colour'"]];
  for (const [body, word] of refused)
    check(isErr(await admin("PATCH", `/api/devices/${ABP.dev_eui}`, body), 400, word), `PATCH ${JSON.stringify(body)} -> 400 naming ${word}`);
  r = await admin("PATCH", `/api/devices/${ABP.dev_eui}`, { name: "valve", nwk_s_key: ABP.nwk_s_key, fcnt_resets_allowed: true });
  check(r.status === 200 && r.json.name === "valve" && r.json.f_cnt_up_next === 4 && r.json.fcnt_resets_allowed === true,
        `PATCH keeps the counters (the same key given is no change): ${r.text}`);

  // ---- a profile's ADR algorithm reaches the device at its next uplink
  r = await admin("GET", `/api/devices/${ABP.dev_eui}/adr`);
  const decided = r.json?.items?.length ?? 0;
  check(decided >= 3 && r.json.items[0].algorithm === "standard", `ADR from the profile decided (${decided}): ${r.text.slice(0, 200)}`);
  check((await admin("PATCH", `/api/device-profiles/${P.id}`, { adr_algorithm: "off" })).json?.adr_algorithm === "off", "profile: ADR off");
  for (let f = 4; f <= 5; f++) { await frameFromAll(dataUp(f, `up ${f}`)); await sleep(350); }
  r = await admin("GET", `/api/devices/${ABP.dev_eui}/adr`);
  check(r.json?.items?.length === decided, `no ADR decision after the profile turned it off (${r.json?.items?.length} vs ${decided})`);

  // ---- pagination: uplinks newest first, a page at a time, and the devices' list
  let seen = [], after = null;
  do {
    r = await admin("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=2${after ? `&after=${after}` : ""}`);
    seen.push(...r.json.items.map((u) => u.f_cnt));
    after = r.json.next;
  } while (after && seen.length < 20);
  check(JSON.stringify(seen) === "[5,4,3,2,1]", `uplinks paged newest first: ${seen}`);
  check(isErr(await admin("GET", `/api/devices/${ABP.dev_eui}/uplinks?after=xyz`), 400, "after"), "bad cursor -> 400");
  const all = [];
  after = null;
  do {
    r = await admin("GET", `/api/devices?limit=3${after ? `&after=${after}` : ""}`);
    check(r.json.items.length <= 3, "a page holds at most limit");
    all.push(...r.json.items.map((d) => d.dev_eui));
    after = r.json.next;
  } while (after && all.length < 50);
  const full = (await admin("GET", "/api/devices")).json.items.map((d) => d.dev_eui);
  check(all.length === full.length && all.length === new Set(all).size && JSON.stringify(all) === JSON.stringify(full), `devices paged: ${all.length} of ${full.length}`);
  r = await admin("GET", `/api/devices?application_id=${A.id}`);
  check(r.json.items.length === 3 && r.json.items.every((d) => d.application_id === A.id), "filter by application");
  r = await admin("GET", `/api/devices?seen_after_ns=${BigInt(Date.now() - 600000) * 1000000n}`);
  check(r.json.items.length === 1 && r.json.items[0].dev_eui === ABP.dev_eui, `filter by last seen: ${r.json.items.map((d) => d.dev_eui)}`);
  check((await admin("GET", "/api/gateways?limit=2")).json?.next === gateways[1].eui, "gateways paged by EUI");

  // ---- time_ns as a string beside the number (JavaScript rounds the number)
  const raw = (await admin("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=1`)).text;
  const digits = /"time_ns":(\d+),"time_ns_str":"(\d+)"/.exec(raw);
  check(digits && digits[1] === digits[2] && digits[2].length === 19, `time_ns_str holds time_ns's digits: ${digits?.slice(1)}`);

  // ---- a confirmed downlink not acknowledged by the next uplink: nacked, a nack event
  check((await admin("POST", `/api/devices/${ABP.dev_eui}/queue`, { f_port: 9, data: "AQ==", confirmed: true })).status === 202, "confirmed downlink queued");
  for (const g of gateways) g.inbox.length = 0;
  await frameFromAll(dataUp(6, "anything?"));
  await sleep(450);
  check(gateways.flatMap((g) => pullResps(g)).length === 1, "the confirmed downlink sent");
  check((await admin("GET", `/api/devices/${ABP.dev_eui}/downlinks?limit=1`)).json?.items[0]?.state === "awaiting_ack", "awaiting its ACK");
  await frameFromAll(dataUp(7, "no ack")); // the next uplink, without ACK
  await sleep(450);
  r = await admin("GET", `/api/devices/${ABP.dev_eui}/downlinks?limit=1`);
  check(r.json?.items[0]?.state === "nacked", `nacked: ${r.text}`);
  r = await admin("GET", `/api/devices/${ABP.dev_eui}/events?limit=10`);
  const nack = r.json?.items?.find((e) => e.type === "nack");
  check(nack && nack.payload.acknowledged === false && nack.payload.f_cnt_down >= 0 && /^\d{19}$/.test(nack.time_ns_str), `nack event: ${JSON.stringify(nack)}`);
  // and one that is acknowledged says so
  check((await admin("POST", `/api/devices/${ABP.dev_eui}/queue`, { f_port: 9, data: "Ag==", confirmed: true })).status === 202, "second confirmed downlink queued");
  await frameFromAll(dataUp(8, "again"));
  await sleep(450);
  const ackUp = lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from(ABP.dev_addr, "hex"),
    FCtrl: { ACK: true }, FCnt: 9, FPort: 2, payload: Buffer.from("done") }, app, nwk).getPHYPayload();
  await frameFromAll(ackUp);
  await sleep(450);
  check((await admin("GET", `/api/devices/${ABP.dev_eui}/downlinks?limit=1`)).json?.items[0]?.state === "acknowledged", "the other acknowledged");
  void clock;
  await stop();
} catch (e) {
  check(false, `exception: ${e.stack}\n${server?.log}`);
}
console.log(`${tally.checks - tally.failures}/${tally.checks} checks passed`);
process.exit(tally.failures ? 1 : 0);
