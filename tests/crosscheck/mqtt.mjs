// End-to-end test of the MQTT integration with a real mosquitto broker started here:
//   - an uplink heard by four gateways -> event/up with every reception, event/location;
//   - a confirmed downlink published on command/down reaches the device in the next answer
//     (decrypted by lora-packet) and its ACK is an event/ack; a malformed command is
//     refused and the server serves on; an OTAA join is an event/join;
//   - the broker is stopped mid-stream and restarted: every uplink sent meanwhile still
//     arrives (at least once); with a small waiting queue the oldest are dropped and counted;
//   - mqtts:// with a CA file and a password works; a wrong password is refused and said;
//   - a simulated fleet (`lorageo sim --server`, real LoRaWAN devices over the real UDP
//     protocol): every join and every uplink the air delivered is an event, frames heard by
//     three gateways are located, and a downlink published on command/down reaches the
//     simulated device.
// Usage: node mqtt.mjs path/to/lorageo [path/to/mosquitto]
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import lora from "lora-packet";
import {
  ABP, api, app, armTimeout, check, dataUp, dir, frameFromAll, gateways, listening, metric, mqttPublish, nwk, pull, pullResps, runServerTest, server, sleep, start, stop, tally, udpPort, waitFor, waitHealthy,
} from "./harness.mjs";

armTimeout(150000);
const mqttPort = udpPort + 2;
const conf = path.join(dir, "mosquitto.conf");
// `user`: a broker started as root would otherwise switch to the mosquitto user, who
// cannot read this test's private directory.
const user = `user ${os.userInfo().username}\n`;
fs.writeFileSync(conf, `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\npersistence true\n` +
  `persistence_location ${dir}/\nlog_dest none\n${user}`);
let broker = null;
function startBroker(file = conf) {
  broker = spawn(process.argv[3] ?? "mosquitto", ["-c", file], { stdio: "ignore" });
}
async function stopBroker() {
  if (broker.exitCode !== null || broker.signalCode !== null) return; /* gone already */
  const exited = new Promise((r) => broker.on("exit", r));
  broker.kill("SIGTERM");
  await exited;
}
// The application: a persistent QoS 1 session, so the broker keeps what arrives while it
// is away and across the broker's restart.
const received = [];
let sub = null;
function startSubscriber(args = ["-p", String(mqttPort), "-c", "-i", "lorageo-test-app"]) {
  sub = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-q", "1", ...args,
    "-t", "lorageo/device/+/event/+", "-F", "%t\t%q\t%p"], { stdio: ["ignore", "pipe", "inherit"] });
  let buf = "";
  sub.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const [topic, qos, payload] = buf.slice(0, i).split("\t");
      buf = buf.slice(i + 1);
      received.push({ topic, qos: Number(qos), msg: JSON.parse(payload) });
    }
  });
}
const publish = (topic, payload) => mqttPublish(mqttPort, topic, payload);
const topic = (type) => `lorageo/device/${ABP.dev_eui}/event/${type}`;
const ups = () => received.filter((m) => m.topic === topic("up"));

await runServerTest("mqtt", async () => {
  startBroker();
  await listening(mqttPort);
  startSubscriber();
  await sleep(300);
  // at least once ([mqtt] qos = 1): what the broker's restart below needs
  start({ LORAGEO_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`, LORAGEO_MQTT_QOS: "1" });
  await waitHealthy();
  for (const g of gateways)
    await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check((await api("POST", "/api/devices", ABP)).status === 201, "device provisioned");
  for (const g of gateways) await pull(g);
  await sleep(200);

  // ---- event/up and event/location
  await frameFromAll(dataUp(1, "hello"));
  check(await waitFor(() => ups().length === 1 && received.some((m) => m.topic === topic("location"))),
        `event/up and event/location arrive: ${JSON.stringify(received.map((m) => m.topic))}`);
  check(received.every((m) => m.qos === 1), `published at QoS 1 as configured: ${received.map((m) => m.qos)}`);
  const up = ups()[0]?.msg ?? {};
  for (const k of ["dev_eui", "dev_addr", "f_cnt", "f_port", "data", "confirmed", "adr", "dr", "frequency", "rx_info"])
    check(k in up, `event/up has ${k}`);
  check(up.dev_eui === ABP.dev_eui && up.f_cnt === 1 && Buffer.from(up.data ?? "", "base64").toString() === "hello",
        `event/up content: ${JSON.stringify(up).slice(0, 200)}`);
  check(up.rx_info?.length === 4 && up.rx_info.every((r) => ["gateway_eui", "time", "time_ns", "tmst", "rssi", "snr",
        "channel", "latitude", "longitude", "altitude"].every((k) => k in r)), "event/up: four receptions with their keys");
  const loc = received.find((m) => m.topic === topic("location"))?.msg ?? {};
  check(["latitude", "longitude", "altitude", "accuracy_m", "method", "gateways", "f_cnt"].every((k) => k in loc) &&
        loc.gateways === 4 && loc.f_cnt === 1, `event/location: ${JSON.stringify(loc)}`);

  // ---- command/down: a bad one refused, a good one delivered with the next answer
  await publish(`lorageo/device/${ABP.dev_eui}/command/down`, "{not json");
  await publish(`lorageo/device/${ABP.dev_eui}/command/down`, JSON.stringify({ f_port: 0, data: "AA==" }));
  await publish(`lorageo/device/${ABP.dev_eui}/command/down`,
                JSON.stringify({ f_port: 7, data: Buffer.from("valve 1 on").toString("base64"), confirmed: true }));
  await sleep(300);
  check(/command on .* refused: not JSON/.test(server.log) && /command on .* refused: f_port/.test(server.log),
        "malformed commands refused with a reason");
  for (const g of gateways) g.inbox.length = 0;
  await frameFromAll(dataUp(2, "anything for me?"));
  await waitFor(() => gateways.some((g) => pullResps(g).length > 0), 3000);
  await sleep(200); /* and no second one */
  const resp = gateways.flatMap((g) => pullResps(g));
  check(resp.length === 1, `the commanded downlink is sent (got ${resp.length})`);
  if (resp.length) {
    const dn = lora.fromWire(Buffer.from(resp[0].txpk.data, "base64"));
    check(dn.getFPort() === 7 && lora.decrypt(dn, app, nwk).toString() === "valve 1 on" && lora.verifyMIC(dn, nwk),
          "downlink from command/down: FPort 7, decrypts and verifies (lora-packet)");
  }
  // the device acknowledges the confirmed downlink -> event/ack
  await frameFromAll(lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from(ABP.dev_addr, "hex"),
    FCtrl: { ACK: true }, FCnt: 3, FPort: 2, payload: Buffer.from("done") }, app, nwk).getPHYPayload());
  check(await waitFor(() => received.some((m) => m.topic === topic("ack"))),
        `event/ack: ${JSON.stringify(received.find((m) => m.topic === topic("ack"))?.msg)}`);

  // ---- OTAA: the join is an event too
  const appKey = Buffer.from("2b7e151628aed2a6abf7158809cf4f3c", "hex");
  const OTAA = { dev_eui: "0004a30b001a2b3c", join_eui: "70b3d57ed0000001", app_key: appKey.toString("hex") };
  check((await api("POST", "/api/devices", OTAA)).status === 201, "OTAA device provisioned");
  await frameFromAll(lora.fromFields({ MType: "Join Request", AppEUI: Buffer.from(OTAA.join_eui, "hex"),
    DevEUI: Buffer.from(OTAA.dev_eui, "hex"), DevNonce: Buffer.from("0102", "hex") }, undefined, undefined, appKey).getPHYPayload());
  const joinTopic = `lorageo/device/${OTAA.dev_eui}/event/join`;
  check(await waitFor(() => received.some((m) => m.topic === joinTopic)), "event/join arrives");
  const dev = (await api("GET", `/api/devices/${OTAA.dev_eui}`)).json;
  check(received.find((m) => m.topic === joinTopic)?.msg.dev_addr === dev.dev_addr,
        `event/join carries the DevAddr given: ${JSON.stringify(received.find((m) => m.topic === joinTopic)?.msg)}`);

  // ---- a simulated fleet through the real protocol: joins, uplinks, locations, a command
  const scn = path.join(dir, "fleet.json"), simOut = path.join(dir, "sim-out");
  fs.writeFileSync(scn, JSON.stringify({
    region: "EU868", seed: 21, duration_s: 40, origin: { lat: 55.7819, lon: 12.5106 },
    gateways: [{ east_m: -1200, north_m: -1200 }, { east_m: 1200, north_m: -1200 }, { east_m: 1200, north_m: 1200 },
               { east_m: -1200, north_m: 1200 }],
    groups: [{ name: "fleet", count: 3, activation: "otaa", dr: 5, payload_bytes: 8,
               traffic: { kind: "periodic", period_s: 5 }, placement: { kind: "disc", radius_m: 600 } }],
    channel: { path_loss: { sigma_db: 2 } }, duty_cycle: false }));
  const simEui = (i) => (0x70b3d5e715000000n + BigInt(i)).toString(16).padStart(16, "0");
  const sim = spawn(process.argv[2] ?? "../../build/lorageo", ["sim", scn, "--server", `127.0.0.1:${udpPort}`,
    "--api", `http://127.0.0.1:${udpPort + 1}`, "--speed", "2", "--out", simOut, "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
  let simStdout = "", simStderr = "";
  sim.stdout.on("data", (d) => (simStdout += d));
  sim.stderr.on("data", (d) => (simStderr += d));
  const simDone = new Promise((r) => sim.on("exit", r));
  const joinOf = (i) => received.some((m) => m.topic === `lorageo/device/${simEui(i)}/event/join`);
  check(await waitFor(() => joinOf(0), 20000), "a simulated device's join is an event/join");
  await publish(`lorageo/device/${simEui(0)}/command/down`,
                JSON.stringify({ f_port: 9, data: Buffer.from("set period 60").toString("base64") }));
  const simCode = await simDone;
  check(simCode === 0, `lorageo sim exits 0 (${simStderr})`);
  const simSum = simCode === 0 ? JSON.parse(simStdout) : { live: {}, joins: {} };
  check(simSum.joins.accepted === 3 && [0, 1, 2].every(joinOf), `all three simulated devices joined: ${JSON.stringify(simSum.joins)}`);
  check(simSum.live.app_downlinks >= 1, `the command/down downlink reached the simulated device (${simSum.live.app_downlinks})`);
  await sleep(500);
  const devCsv = fs.readFileSync(path.join(simOut, "devices.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
  const delivered = new Set(fs.readFileSync(path.join(simOut, "transmissions.csv"), "utf8").trim().split("\n").slice(1)
    .map((l) => l.split(",")).filter((r) => r[3] === "data" && r[16] === "1").map((r) => `${devCsv[r[1]][1]}/${r[4]}`));
  const events = new Set(received.filter((m) => /70b3d5e715/.test(m.topic) && m.topic.endsWith("/event/up"))
    .map((m) => `${m.msg.dev_eui}/${m.msg.f_cnt}`));
  check(delivered.size >= 6 && delivered.size === events.size && [...delivered].every((k) => events.has(k)),
        `every uplink the air delivered is one event/up (${events.size} events, ${delivered.size} delivered)`);
  check(received.some((m) => /70b3d5e715/.test(m.topic) && m.topic.endsWith("/event/location")),
        "the simulated fleet's frames are located (event/location)");

  // ---- the broker goes away mid-stream and comes back: nothing lost
  await stopBroker();
  for (let f = 4; f <= 8; f++) {
    await frameFromAll(dataUp(f, `while away ${f}`));
    await sleep(300);
  }
  startBroker();
  const want = [1, 2, 3, 4, 5, 6, 7, 8];
  const ok = await waitFor(() => want.every((f) => ups().some((m) => m.msg.f_cnt === f)), 20000);
  check(ok, `every uplink arrives after the broker's restart: ${ups().map((m) => m.msg.f_cnt)}`);
  check(/connected; [1-9]\d* waiting events sent/.test(server.log), "events waited and were sent on reconnect");
  check((await api("GET", "/api/health")).status === 200, "still serving");
  check(await metric('lorageo_mqtt_commands_total{result="refused"}') === 2 &&
        await metric('lorageo_mqtt_commands_total{result="enqueued"}') === 2, "commands counted by result (one from the fleet phase)");
  check(await metric("lorageo_mqtt_connected") === 1 && await metric("lorageo_mqtt_waiting") === 0 &&
        await metric("lorageo_mqtt_dropped_total") === 0, "connected, nothing waiting, nothing dropped");
  check(await metric("lorageo_mqtt_published_total") >= 18, "8 up, 8 location, ack and join events published");

  // ---- the waiting queue is bounded: with room for 3 and the broker away, 3 uplinks (6
  // events) keep the newest 3 and count 3 dropped
  await stop();
  await stopBroker();
  start({ LORAGEO_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`, LORAGEO_MQTT_QOS: "1", LORAGEO_MQTT_QUEUE_MAX: "3" });
  await waitHealthy();
  for (let f = 9; f <= 11; f++) await frameFromAll(dataUp(f, `overflow ${f}`));
  /* the three uplinks' events, once processed (a loaded machine may take a while) */
  for (let t = 0; t < 10000 && (await metric("lorageo_mqtt_dropped_total")) < 3; t += 100)
    await sleep(100);
  await sleep(300); /* nothing more comes */
  check(await metric("lorageo_mqtt_dropped_total") === 3 && await metric("lorageo_mqtt_waiting") === 3,
        `bounded queue: dropped ${await metric("lorageo_mqtt_dropped_total")}, waiting ${await metric("lorageo_mqtt_waiting")}`);
  startBroker();
  check(await waitFor(() => ups().some((m) => m.msg.f_cnt === 11), 20000) && !ups().some((m) => m.msg.f_cnt === 9),
        "after the broker returns the newest events arrive, the dropped ones do not");

  // ---- TLS and a password: a broker that takes only mqtts:// with a known user
  await stop();
  await stopBroker();
  sub.kill("SIGTERM");
  const f = (n) => path.join(dir, n);
  const sh = (cmd, args) => execFileSync(cmd, args, { stdio: "ignore" });
  sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.crt"),
                 "-days", "1", "-subj", "/CN=lorageo test CA"]);
  sh("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", f("srv.key"), "-out", f("srv.csr"), "-subj", "/CN=127.0.0.1"]);
  fs.writeFileSync(f("san.ext"), "subjectAltName=IP:127.0.0.1\n");
  sh("openssl", ["x509", "-req", "-in", f("srv.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial",
                 "-out", f("srv.crt"), "-days", "1", "-extfile", f("san.ext")]);
  sh("mosquitto_passwd", ["-c", "-b", f("passwd"), "lorageo", "s3cret"]);
  // the TLS broker on a port of the test's own; another test running beside this one may
  // hold it, so a broker that does not come up is tried on the next
  let tlsPort = 0;
  for (let k = 0; ; k++) {
    tlsPort = udpPort + 3 + 11 * k;
    fs.writeFileSync(f("tls.conf"), `listener ${tlsPort} 127.0.0.1\ncafile ${f("ca.crt")}\ncertfile ${f("srv.crt")}\n` +
      `keyfile ${f("srv.key")}\nallow_anonymous false\npassword_file ${f("passwd")}\nlog_dest none\n${user}`);
    startBroker(f("tls.conf"));
    try {
      await listening(tlsPort);
      break;
    } catch (e) {
      await stopBroker();
      if (k === 2) throw e;
    }
  }
  startSubscriber(["-p", String(tlsPort), "--cafile", f("ca.crt"), "-u", "lorageo", "-P", "s3cret"]);
  await sleep(300);
  const tlsEnv = { LORAGEO_MQTT_URL: `mqtts://127.0.0.1:${tlsPort}`, LORAGEO_MQTT_CA_FILE: f("ca.crt"),
                   LORAGEO_MQTT_USERNAME: "lorageo", LORAGEO_MQTT_PASSWORD: "s3cret" };
  start(tlsEnv);
  await waitHealthy();
  await frameFromAll(dataUp(12, "over TLS"));
  check(await waitFor(() => ups().some((m) => m.msg.f_cnt === 12)), "event/up over TLS with a password");
  // a confirmed downlink the device does not acknowledge (its next uplink has no ACK): event/nack
  for (const g of gateways) await pull(g);
  check((await api("POST", `/api/devices/${ABP.dev_eui}/queue`, { f_port: 7, data: "AQ==", confirmed: true })).status === 202,
        "a confirmed downlink queued");
  await frameFromAll(dataUp(13, "anything for me?"));
  await sleep(500);
  await frameFromAll(dataUp(14, "no ack"));
  check(await waitFor(() => received.some((m) => m.topic === topic("nack"))),
        `event/nack: ${JSON.stringify(received.find((m) => m.topic === topic("nack"))?.msg)}`);
  const nack = received.find((m) => m.topic === topic("nack"))?.msg;
  check(nack?.acknowledged === false && Number.isInteger(nack?.f_cnt_down), `nack payload: ${JSON.stringify(nack)}`);
  await stop();
  start({ ...tlsEnv, LORAGEO_MQTT_PASSWORD: "wrong" });
  await waitHealthy();
  check(await waitFor(() => /broker refused the connection/.test(server.log)) &&
        await metric("lorageo_mqtt_connected") === 0, "a wrong password: refused, said, and not connected");

  // ---- a "broker" that takes the TCP connection and never answers: the server waits for
  // it without spinning
  await stop();
  const mute = net.createServer(() => {});
  await new Promise((r) => mute.listen(0, "127.0.0.1", r));
  start({ LORAGEO_MQTT_URL: `mqtt://127.0.0.1:${mute.address().port}` });
  await waitHealthy();
  const ticks = () => { const f = fs.readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(f[11]) + Number(f[12]); }; // utime + stime, in clock ticks (1/100 s)
  const t0 = ticks();
  await sleep(3000);
  const used = ticks() - t0;
  check(used < 60 && await metric("lorageo_mqtt_connected") === 0,
    `an unanswering broker: not connected, ${used / 100} s of CPU in 3 s`);
  mute.close();
}, async () => {
  sub?.kill("SIGTERM");
  if (broker && broker.exitCode === null) await stopBroker();
  for (const g of gateways) g.sock.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
