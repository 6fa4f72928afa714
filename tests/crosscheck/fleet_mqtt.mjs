// The fleet's events over a real mosquitto broker (issue 19): a counter reset is an
// event/alarm (raised) on the device's topic, a MIC burst an event/alarm on the DevAddr's
// topic, and a configuration change is event/config at each step (sent, then applied when
// the device reports it).
// Usage: node fleet_mqtt.mjs path/to/lorageo [path/to/mosquitto]
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import lora from "lora-packet";
import {
  ABP, api, app, armTimeout, check, dataUp, dir, frameFromAll, gateways, listening, nwk, pull, sleep, start, stop, tally, udpPort,
  waitHealthy,
} from "./harness.mjs";

armTimeout(60000);
const mqttPort = udpPort + 2;
const conf = path.join(dir, "mosquitto.conf");
fs.writeFileSync(conf, `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\nlog_dest none\nuser ${os.userInfo().username}\n`);
const broker = spawn(process.argv[3] ?? "mosquitto", ["-c", conf], { stdio: "ignore" });
const received = [];
let sub = null;
try {
  await listening(mqttPort);
  sub = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(mqttPort), "-q", "1", "-t", "lorageo/#", "-F", "%t\t%p"],
    { stdio: ["ignore", "pipe", "inherit"] });
  let buf = "";
  sub.stdout.on("data", (d) => {
    buf += d;
    for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) {
      const [topic, payload] = buf.slice(0, i).split("\t");
      received.push({ topic, msg: JSON.parse(payload) });
    }
  });
  await sleep(300);
  start({ LORAGEO_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}` });
  await waitHealthy();
  for (const g of gateways)
    await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  for (const g of gateways) await pull(g);
  check((await api("POST", "/api/devices", { ...ABP, fcnt_resets_allowed: true })).status === 201, "an ABP device");
  await sleep(500); // the server's broker connection
  await frameFromAll(dataUp(10, "a"));
  await frameFromAll(dataUp(1, "rebooted"));
  for (let i = 0; i < 5; i++) await frameFromAll(dataUp(20 + i, "forged", false, Buffer.alloc(16, 7)));
  check((await api("PATCH", `/api/devices/${ABP.dev_eui}/config`, { uplink_interval_s: 600 })).status === 200, "desired set");
  await frameFromAll(dataUp(2, "b"));
  await sleep(500);
  await frameFromAll(lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from(ABP.dev_addr, "hex"), FCnt: 3,
    FPort: 222, payload: Buffer.from([1, 0, 0, 2, 0x58]) }, app, nwk).getPHYPayload());
  await sleep(1000);
  const on = (t) => received.filter((r) => r.topic === t);
  const alarm = on(`lorageo/device/${ABP.dev_eui}/event/alarm`);
  check(alarm.some((a) => a.msg.kind === "reboot" && a.msg.state === "raised" && a.msg.alarm_id > 0 && /reset/.test(a.msg.detail)),
    `a reboot alarm on the device's topic (${JSON.stringify(alarm)})`);
  const mic = on(`lorageo/dev_addr/${ABP.dev_addr}/event/alarm`);
  check(mic.length === 1 && mic[0].msg.kind === "mic_burst" && mic[0].msg.subject === ABP.dev_addr,
    `a MIC burst on the DevAddr's topic (${JSON.stringify(mic)} of ${received.map((r) => r.topic)})`);
  const cfg = on(`lorageo/device/${ABP.dev_eui}/event/config`).map((r) => r.msg);
  check(cfg.some((c) => c.action === "sent" && !c.in_sync && c.pending.includes("uplink_interval_s") && c.pending_since_ns > 0) &&
        cfg.some((c) => c.action === "applied" && c.in_sync && c.pending_since_ns === null),
    `event/config when sent and when applied (${JSON.stringify(cfg)})`);
} catch (e) {
  tally.failures++;
  console.error(`FAIL ${e.stack}`);
} finally {
  await stop().catch(() => {});
  sub?.kill();
  broker.kill();
  for (const g of gateways) g.sock.close();
}
console.log(`${tally.checks - tally.failures}/${tally.checks} checks passed`);
process.exit(tally.failures ? 1 : 0);
