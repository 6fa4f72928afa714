// [mqtt] format = chirpstack against a real mosquitto broker: an application written for
// ChirpStack v4's MQTT integration (json) subscribes to application/+/device/+/event/+ and
// finds its events there, with ChirpStack's field names and types:
//   - event/up: deduplicationId, time, deviceInfo {tenantId, applicationId, deviceName,
//     devEui, ...}, devAddr, adr, dr, fCnt, fPort, confirmed, data (base64), rxInfo[{gatewayId,
//     uplinkId, time, rssi, snr, channel, location, context, crcStatus}], txInfo {frequency,
//     modulation {lora {bandwidth, spreadingFactor, codeRate}}};
//   - event/location (location {latitude, longitude, altitude, source, accuracy}), event/join
//     (devAddr), event/ack (acknowledged, fCntDown);
//   - a command on application/{id}/device/{devEui}/command/down ({devEui, confirmed, fPort,
//     data}) is the next downlink (decrypted by lora-packet);
//   - nothing is published on lorageo's own topics.
// Usage: node mqtt_chirpstack.mjs path/to/lorageo [path/to/mosquitto]
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import lora from "lora-packet";
import {
  ABP, api, app, armTimeout, check, dataUp, dir, frameFromAll, gateways, header, listening, mqttPublish, nwk, pull, pullResps, runServerTest, send, server, sleep, start, stop, tally, udpPort, waitFor, waitHealthy,
} from "./harness.mjs";

armTimeout(90000);
const mqttPort = udpPort + 2;
const conf = path.join(dir, "mosquitto.conf");
fs.writeFileSync(conf, `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\nlog_dest none\n` +
  `user ${os.userInfo().username}\n`);
const broker = spawn(process.argv[3] ?? "mosquitto", ["-c", conf], { stdio: "ignore" });
const received = [];
let sub = null;
const publish = (topic, payload) => mqttPublish(mqttPort, topic, payload);
const APP = "3f1c2b4a-0000-4000-8000-00000000beef";
const topic = (type, eui = ABP.dev_eui) => `application/${APP}/device/${eui}/event/${type}`;
const msgs = (type, eui) => received.filter((m) => m.topic === topic(type, eui)).map((m) => m.msg);

// a TX_ACK without error for the PULL_RESP with this token (protocol v2)
const txAckFrom = (g, token) => send(g, Buffer.concat([header(5, g.eui, token), Buffer.from('{"txpk_ack":{"error":"NONE"}}')]));
await runServerTest("mqtt_chirpstack", async () => {
  await listening(mqttPort);
  sub = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(mqttPort), "-q", "1", "-t", "application/+/device/+/event/+",
    "-t", "lorageo/#", "-F", "%t\t%q\t%p"], { stdio: ["ignore", "pipe", "inherit"] });
  let buf = "";
  sub.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const [t, q, p] = buf.slice(0, i).split("\t");
      buf = buf.slice(i + 1);
      received.push({ topic: t, qos: Number(q), msg: JSON.parse(p) });
    }
  });
  await sleep(300);
  start({ LORAGEO_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`, LORAGEO_MQTT_FORMAT: "chirpstack",
          LORAGEO_MQTT_APPLICATION_ID: APP });
  await waitHealthy();
  for (const g of gateways)
    await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  const prof = await api("POST", "/api/device-profiles", { name: "valves" });
  check((await api("POST", "/api/devices", { ...ABP, name: "valve-7", profile_id: prof.json?.id })).status === 201, "device provisioned");
  for (const g of gateways) await pull(g);
  await sleep(200);

  await frameFromAll(dataUp(1, "hello"));
  check(await waitFor(() => msgs("up").length === 1 && msgs("location").length === 1),
        `event/up and event/location on ChirpStack's topics: ${JSON.stringify(received.map((m) => m.topic))}`);
  // as ChirpStack's integration by default: QoS 0 (the subscriber asked for 1, gets the
  // publisher's 0)
  check(received.length > 0 && received.every((m) => m.qos === 0),
        `published at QoS 0 by default: ${received.map((m) => m.qos)}`);
  const up = msgs("up")[0] ?? {};
  const di = up.deviceInfo ?? {};
  check(di.devEui === ABP.dev_eui && di.applicationId === APP && di.deviceName === "valve-7" &&
        "tenantId" in di && di.deviceProfileName === "valves" && di.applicationName === "default" &&
        di.deviceProfileId === `00000000-0000-0000-0000-${prof.json?.id.toString(16).padStart(12, "0")}` &&
        di.deviceClassEnabled === "CLASS_A",
        `deviceInfo: ${JSON.stringify(di)}`);
  check(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(up.deduplicationId ?? "") &&
        !Number.isNaN(Date.parse(up.time)), `deduplicationId (UUID) and time: ${up.deduplicationId} ${up.time}`);
  check(up.devAddr === ABP.dev_addr && up.fCnt === 1 && up.fPort === 2 && up.confirmed === false &&
        typeof up.adr === "boolean" && up.dr === 5 && Buffer.from(up.data ?? "", "base64").toString() === "hello",
        `uplink fields: ${JSON.stringify({ ...up, rxInfo: undefined, deviceInfo: undefined })}`);
  check(!("object" in up), "no object: no codec is configured for the device");
  const rx = up.rxInfo ?? [];
  check(rx.length === 4 && rx.every((r) => /^[0-9a-f]{16}$/.test(r.gatewayId) && Number.isInteger(r.rssi) &&
        typeof r.snr === "number" && typeof r.time === "string" && /s$/.test(r.timeSinceGpsEpoch) &&
        r.crcStatus === "CRC_OK" && typeof r.context === "string" && typeof r.location?.latitude === "number"),
        `rxInfo: ${JSON.stringify(rx[0])}`);
  check(gateways.every((g) => rx.some((r) => r.gatewayId === g.eui)), "every gateway in rxInfo");
  const lo = up.txInfo?.modulation?.lora ?? {};
  check(up.txInfo?.frequency === 868100000 && lo.bandwidth === 125000 && lo.spreadingFactor === 7 && lo.codeRate === "CR_4_5",
        `txInfo: ${JSON.stringify(up.txInfo)}`);
  const loc = msgs("location")[0]?.location ?? {};
  check(typeof loc.latitude === "number" && typeof loc.longitude === "number" && /^GEO_RESOLVER_/.test(loc.source) &&
        typeof loc.accuracy === "number", `event/location: ${JSON.stringify(loc)}`);

  // a ChirpStack command: the next answer carries it
  await publish(`application/${APP}/device/${ABP.dev_eui}/command/down`,
                JSON.stringify({ devEui: ABP.dev_eui, confirmed: true, fPort: 7,
                                 data: Buffer.from("valve 1 on").toString("base64") }));
  await sleep(300);
  for (const g of gateways) g.inbox.length = 0;
  await frameFromAll(dataUp(2, "anything for me?"));
  await waitFor(() => gateways.some((g) => pullResps(g).length > 0), 3000);
  const resp = gateways.flatMap((g) => pullResps(g));
  check(resp.length === 1, `the command is sent (${resp.length} downlinks)`);
  if (resp.length) {
    // the gateway says it sent it: ChirpStack's txack
    const g = gateways.find((x) => pullResps(x).length > 0);
    await txAckFrom(g, resp[0].token);
    check(await waitFor(() => msgs("txack").length >= 1), "event/txack after the gateway's TX_ACK");
    const tx = msgs("txack")[0] ?? {};
    check(tx.gatewayId === g.eui && Number.isInteger(tx.fCntDown) && tx.deviceInfo?.devEui === ABP.dev_eui,
          `txack: ${JSON.stringify(tx)}`);
    const dn = lora.fromWire(Buffer.from(resp[0].txpk.data, "base64"));
    check(dn.getFPort() === 7 && lora.decrypt(dn, app, nwk).toString() === "valve 1 on",
          "command/down on ChirpStack's topic: FPort 7, decrypts (lora-packet)");
  }
  await frameFromAll(lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from(ABP.dev_addr, "hex"),
    FCtrl: { ACK: true }, FCnt: 3, FPort: 2, payload: Buffer.from("done") }, app, nwk).getPHYPayload());
  check(await waitFor(() => msgs("ack").length === 1), "event/ack");
  const ack = msgs("ack")[0] ?? {};
  check(ack.acknowledged === true && Number.isInteger(ack.fCntDown) && ack.deviceInfo?.devEui === ABP.dev_eui,
        `event/ack: ${JSON.stringify(ack)}`);

  // a command given as an object: the profile's codec (Cayenne LPP) makes the bytes
  check((await api("PATCH", `/api/device-profiles/${prof.json.id}`, { payload_codec: "cayenne_lpp" })).status === 200,
        "the profile's codec set");
  await publish(`application/${APP}/device/${ABP.dev_eui}/command/down`,
                JSON.stringify({ devEui: ABP.dev_eui, confirmed: false, fPort: 5, object: { digitalOutput: { 3: 1 } } }));
  await sleep(300);
  for (const g of gateways) g.inbox.length = 0;
  await frameFromAll(dataUp(4, "and now?"));
  await waitFor(() => gateways.some((g) => pullResps(g).length > 0), 3000);
  const lpp = gateways.flatMap((g) => pullResps(g));
  const dn4 = lpp.length ? lora.fromWire(Buffer.from(lpp[0].txpk.data, "base64")) : null;
  check(dn4 && dn4.getFPort() === 5 && lora.decrypt(dn4, app, nwk).toString("hex") === "030101",
        `command/down with an object: LPP bytes 03 01 01 on FPort 5 (${dn4 ? lora.decrypt(dn4, app, nwk).toString("hex") : "none"})`);

  // OTAA join
  const appKey = Buffer.from("2b7e151628aed2a6abf7158809cf4f3c", "hex");
  const OTAA = { dev_eui: "0004a30b001a2b3c", join_eui: "70b3d57ed0000001", app_key: appKey.toString("hex") };
  check((await api("POST", "/api/devices", OTAA)).status === 201, "OTAA device provisioned");
  await frameFromAll(lora.fromFields({ MType: "Join Request", AppEUI: Buffer.from(OTAA.join_eui, "hex"),
    DevEUI: Buffer.from(OTAA.dev_eui, "hex"), DevNonce: Buffer.from("0102", "hex") }, undefined, undefined, appKey).getPHYPayload());
  check(await waitFor(() => msgs("join", OTAA.dev_eui).length === 1), "event/join");
  const dev = (await api("GET", `/api/devices/${OTAA.dev_eui}`)).json;
  check(msgs("join", OTAA.dev_eui)[0]?.devAddr === dev.dev_addr, "event/join carries the DevAddr given");

  check(!received.some((m) => m.topic.startsWith("lorageo/")), "nothing on lorageo's own topics");
}, async () => {
  sub?.kill("SIGTERM");
  broker.kill("SIGTERM");
  for (const g of gateways) g.sock.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
