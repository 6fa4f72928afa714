// Payload codecs end to end (issue 18 item 3): a device profile names the codec
// (`payload_codec`), its devices' uplinks carry the decoded `object` in the API — Cayenne LPP
// built in, a JavaScript codec from [codec] dir; a codec that throws leaves the uplink
// stored with `object_error`; a profile changed to another codec decodes the next uplink
// with it (the server's cache of devices' codecs follows the change).
// Usage: node codec_profile.mjs path/to/lorageo
import fs from "node:fs";
import path from "node:path";
import { ABP, api, armTimeout, check, dataUp, dir, frameFromAll, gateways, sleep, start, stop, tally, waitHealthy } from "./harness.mjs";

armTimeout(60000);
const codecs = path.join(dir, "codecs");
fs.mkdirSync(codecs);
fs.writeFileSync(path.join(codecs, "meter.js"),
  "function decodeUplink(input) {\n" +
  "  if (input.bytes[0] === 0xff) throw new Error('bad frame');\n" +
  "  return { data: { litres: input.bytes[0] * 256 + input.bytes[1], port: input.fPort } };\n}\n" +
  "function encodeDownlink(input) {\n" +
  "  return { bytes: [input.data.valve ? 1 : 0, input.data.minutes & 255], fPort: 9 };\n}\n");
async function lastUplink() {
  for (let i = 0; i < 40; i++) {
    const u = (await api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=1`)).json?.items?.[0];
    if (u && u.f_cnt === fcnt) return u;
    await sleep(50);
  }
  return null;
}
let fcnt = 0;
async function uplink(bytes) {
  fcnt++;
  await frameFromAll(dataUp(fcnt, bytes));
  return lastUplink();
}
try {
  start({ LORAGEO_CODEC_DIR: codecs });
  await waitHealthy();
  for (const g of gateways)
    check((await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt })).status === 201, "gateway");
  const lpp = await api("POST", "/api/device-profiles", { name: "lpp sensors", payload_codec: "cayenne_lpp" });
  const js = await api("POST", "/api/device-profiles", { name: "meters", payload_codec: "js:meter" });
  check(lpp.status === 201 && js.status === 201, `profiles made (${lpp.status} ${js.status})`);
  check((await api("POST", "/api/devices", { ...ABP, profile_id: lpp.json.id })).status === 201, "device with the LPP profile");

  // temperature 27.2 °C on channel 3, humidity 40 % on channel 5 (LPP's reference example)
  let u = await uplink([0x03, 0x67, 0x01, 0x10, 0x05, 0x68, 0x50]);
  check(u?.object?.temperatureSensor?.["3"] === 27.2 && u?.object?.humiditySensor?.["5"] === 40,
    `Cayenne LPP decoded into object (${JSON.stringify(u?.object)})`);

  // the profile changed: the next uplink through the JavaScript codec
  check((await api("PATCH", `/api/device-profiles/${lpp.json.id}`, { payload_codec: "js:meter" })).status === 200, "profile PATCHed");
  u = await uplink([0x01, 0x02]);
  check(u?.object?.litres === 258 && u?.object?.port === 2, `the JavaScript codec after the PATCH (${JSON.stringify(u?.object)})`);

  // a downlink given as an object: the codec's encodeDownlink makes the bytes and the port
  let q = await api("POST", `/api/devices/${ABP.dev_eui}/queue`, { object: { valve: true, minutes: 30 } });
  check(q.status === 202 && q.json.bytes === 2, `queued from an object (${q.status} ${JSON.stringify(q.json)})`);
  const item = (await api("GET", `/api/devices/${ABP.dev_eui}/queue`)).json?.items?.[0];
  check(item?.f_port === 9 && item?.data === Buffer.from([1, 30]).toString("base64"),
    `the codec's bytes and port queued (${JSON.stringify(item)})`);
  q = await api("POST", `/api/devices/${ABP.dev_eui}/queue`, { object: { valve: true }, data: "AQ==" });
  check(q.status === 400 && /not both/.test(q.json?.error), `object and data together refused (${q.json?.error})`);
  check((await api("DELETE", `/api/devices/${ABP.dev_eui}/queue`)).status === 200, "queue emptied");

  // a codec that throws: stored all the same, with the reason
  u = await uplink([0xff, 0x00]);
  check(u && u.object === undefined && /bad frame/.test(u.object_error ?? ""), `a throwing codec: object_error (${u?.object_error})`);

  // another device on the other profile, and one with none
  check((await api("PATCH", `/api/devices/${ABP.dev_eui}`, { profile_id: null })).status === 200, "profile removed from the device");
  u = await uplink([0x03, 0x67, 0x01, 0x10]);
  check(u && u.object === undefined && u.object_error === undefined, `no profile, no codec: no object (${JSON.stringify(u?.object)})`);
  q = await api("POST", `/api/devices/${ABP.dev_eui}/queue`, { object: { valve: true } });
  check(q.status === 400 && /no payload codec/.test(q.json?.error), `an object without a codec refused (${q.json?.error})`);
} catch (e) {
  check(false, `exception: ${e.stack}`);
} finally {
  await stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`codec_profile: ${tally.checks} checks, ${tally.failures} failures`);
process.exit(tally.failures ? 1 : 0);
