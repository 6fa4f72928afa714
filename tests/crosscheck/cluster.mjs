// Two `lorageo serve` instances sharing one PostgreSQL database and one Redis ([cluster]
// redis), each holding half of the gateways, as behind a UDP load balancer (issue 8):
//   - a frame whose copies land on both instances is one uplink with every reception;
//   - a late copy that lands on the instance that did not store the frame is attached to
//     it all the same; one that lands on the owner too;
//   - no frame is processed twice (uplinks counted across the instances);
//   - an OTAA join heard through a gateway whose PULL path the other instance holds: the
//     join-accept goes out through that instance in time, its TX_ACK (TOO_LATE) comes back
//     and the retry in RX2 goes out the same way;
//   - one duty-cycle budget per gateway: the instance holding it refuses what would break
//     it, whoever decided the downlink, and the next holder starts from its account;
//   - two instances on one UDP port ([server] reuse_port): the kernel spreads the gateways'
//     sockets over both, and each frame is still one uplink with all its receptions; without
//     reuse_port a second instance on a port in use is refused with the reason;
//   - with Redis gone, each instance goes on processing what it receives, and says so.
// A real redis-server is started on a free port. Needs LORAGEO_TEST_PG (scripts/test.sh).
// usage: node cluster.mjs LORAGEO REDIS-SERVER
import dgram from "node:dgram";
import lora from "lora-packet";
import {
  ABP, armTimeout, check, dataUp, gateways, header, instance, redisServer, pullResps, rxpkFor, sleep, tally,
} from "./harness.mjs";

if (!process.env.LORAGEO_TEST_PG) {
  console.log("cluster: skipped (LORAGEO_TEST_PG not set)");
  process.exit(0);
}
armTimeout(60000);

const redis = redisServer();
const env = { LORAGEO_CLUSTER_REDIS: redis.url };
const instances = [instance(0, env), instance(1, env)];
const shared = { ...env, LORAGEO_SERVER_REUSE_PORT: "true" }; // D and E: one UDP port
instances.push(instance(3, shared));
instances.push(instance(4, shared, instances[2].udp), instance(5, env, instances[2].udp));
async function uplink(inst, fcnt) {
  const items = (await inst.api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=20`)).json.items;
  return items.filter((u) => u.f_cnt === fcnt);
}
let emit = BigInt(Date.now()) * 1000000n;

try {
  await redis.start();
  const [a, b] = instances;
  a.start();
  await a.healthy();
  b.start();
  await b.healthy();
  check(/cluster: sharing frames/.test(a.log) && /cluster: sharing frames/.test(b.log), "both in the cluster");
  for (const g of gateways)
    await a.api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check((await a.api("POST", "/api/devices", ABP)).status === 201, "device added");

  // the stored uplinks with that FCnt, as read at inst, once there are `want` receptions
  // (a PostgreSQL commit can take a few hundred ms on a busy disk: wait up to 3 s)
  const stored = async (inst, fcnt, want) => {
    let u = [];
    for (let t = 0; t < 3000; t += 50) {
      u = await uplink(inst, fcnt);
      if (u.length > 1 || (u.length === 1 && u[0].rx_info.length >= want)) break;
      await sleep(50);
    }
    await sleep(100); // and nothing more comes
    return uplink(inst, fcnt);
  };
  // one frame: copies from gateways [index, instance] at once, then optionally a late one
  // 600 ms after (past the 200 ms window); the stored uplinks with that FCnt, as read at A
  const frame = async (fcnt, onTime, late = null) => {
    emit += 10000000000n;
    const phy = dataUp(fcnt, `frame ${fcnt}`);
    for (const [i, inst] of onTime) await inst.push(gateways[i], rxpkFor(gateways[i], phy, emit));
    await sleep(600);
    if (late) await late[1].push(gateways[late[0]], rxpkFor(gateways[late[0]], phy, emit));
    const u = await stored(a, fcnt, onTime.length + (late ? 1 : 0));
    const shape = JSON.stringify(u.map((x) => x.rx_info.map((r) => [r.gateway_eui.slice(-1), r.late])));
    return { u, shape, lateCount: u.length === 1 ? u[0].rx_info.filter((r) => r.late).length : -1 };
  };
  // 1. half the gateways on each instance: one uplink, four receptions, none late
  let f = await frame(1, [[0, a], [1, b], [2, a], [3, b]]);
  check(f.u.length === 1 && f.u[0].rx_info.length === 4 && f.lateCount === 0,
        `one uplink with the four receptions: ${f.shape}`);
  // 2. a late copy on the instance that does not own the frame (A saw it first)
  f = await frame(2, [[0, a], [1, b], [2, a]], [3, b]);
  check(f.u.length === 1 && f.u[0].rx_info.length === 4 && f.lateCount === 1,
        `the late copy at B attached to A's uplink: ${f.shape}`);
  // 3. and one on the owner (B saw it first)
  f = await frame(3, [[1, b], [0, a], [2, a]], [3, b]);
  check(f.u.length === 1 && f.u[0].rx_info.length === 4 && f.lateCount === 1,
        `the late copy at the owner attached: ${f.shape}`);

  const processed = (await a.metric("lorageo_uplinks_total")) + (await b.metric("lorageo_uplinks_total"));
  check(processed === 3, `each frame processed once across the instances: ${processed}`);

  // 4. an OTAA join heard by gateway 1 at A, whose PULL path B holds
  const g1 = gateways[1];
  await b.pull(g1);
  await sleep(100);
  const appKey = Buffer.from("5a6b7c8d9e0f11223344556677889900", "hex");
  const OTAA = { dev_eui: "0004a30b001a2b3d", join_eui: "70b3d57ed0000002", app_key: appKey.toString("hex") };
  check((await a.api("POST", "/api/devices", OTAA)).status === 201, "OTAA device added");
  g1.inbox.length = 0;
  const devNonce = Buffer.from("2c3d", "hex");
  const jr = lora.fromFields({ MType: "Join Request", AppEUI: Buffer.from(OTAA.join_eui, "hex"),
    DevEUI: Buffer.from(OTAA.dev_eui, "hex"), DevNonce: devNonce }, undefined, undefined, appKey).getPHYPayload();
  emit += 10000000000n;
  const sent = Date.now();
  check(await a.pushAcked(g1, rxpkFor(g1, jr, emit)), "join request accepted by A");
  const pullResp = async (n) => {
    for (let t = 0; t < 3000; t += 10) {
      const r = pullResps(g1);
      if (r.length >= n) return r[n - 1];
      await sleep(10);
    }
    return null;
  };
  const ja = await pullResp(1);
  const took = Date.now() - sent;
  check(ja !== null, "a join-accept reached the gateway through B");
  if (ja) {
    // the RX1 window opens 5 s after the uplink; the gateway needs it some 100s of ms before
    check(took < 1000, `in time: ${took} ms after the request (window at 5000 ms)`);
    check(ja.txpk.tmst === 1000000 + 5000000 && ja.txpk.freq === 868.1, `RX1 at +5 s: ${JSON.stringify(ja.txpk)}`);
    const plain = lora.fromWire(lora.decryptJoinAccept(lora.fromWire(Buffer.from(ja.txpk.data, "base64")), appKey));
    check(lora.verifyMIC(plain, undefined, appKey), "join-accept MIC verifies (lora-packet)");
    // the gateway answers B: too late; A hears of it and retries in RX2, again through B
    await b.txAck(g1, ja.token, "TOO_LATE");
    const rx2 = await pullResp(2);
    check(rx2 !== null && rx2.txpk.tmst === 1000000 + 6000000 && rx2.txpk.freq === 869.525 &&
          rx2.txpk.datr === "SF12BW125", `retried in RX2 through B: ${JSON.stringify(rx2?.txpk)}`);
    if (rx2) await b.txAck(g1, rx2.token, "NONE");
    await sleep(200);
  }
  check((await a.metric("lorageo_cluster_downlinks_out_total")) === 2 &&
        (await b.metric("lorageo_cluster_downlinks_in_total")) === 2, "both attempts handed from A to B");
  check((await a.metric('lorageo_downlinks_total{result="too_late"}')) === 1 &&
        (await a.metric('lorageo_downlinks_total{result="ok"}')) === 1, "A learned both TX_ACKs");
  check((await a.metric("lorageo_joins_total")) + (await b.metric("lorageo_joins_total")) === 1, "one join");

  // 5. D and E on one UDP port; F on it too, without reuse_port
  const [, , d, e, f2] = instances;
  d.start();
  await d.healthy();
  e.start();
  await e.healthy();
  f2.start();
  const fExit = await new Promise((r) => f2.proc.on("exit", (code) => r(code)));
  check(fExit !== 0 && /cannot listen for UDP on .*address already in use/.test(f2.log),
        `a second instance on a port in use without reuse_port is refused: ${f2.log.trim()}`);
  // 16 sockets speak for the four gateways (a forwarder's source port changes when it
  // restarts): the kernel's hash spreads them over D and E
  const socks = Array.from({ length: 16 }, () => dgram.createSocket("udp4"));
  const before = (await d.metric("lorageo_uplinks_total")) + (await e.metric("lorageo_uplinks_total"));
  const dBefore = await d.metric("lorageo_gateway_datagrams_total"), eBefore = await e.metric("lorageo_gateway_datagrams_total");
  const shapes = [];
  for (let fcnt = 10; fcnt < 18; fcnt++) {
    emit += 10000000000n;
    const phy = dataUp(fcnt, `one port ${fcnt}`);
    for (const [i, g] of gateways.entries()) {
      const sock = socks[(fcnt * 4 + i) % 16];
      await new Promise((r) => sock.send(Buffer.concat([header(0, g.eui),
        Buffer.from(`{"rxpk":[${rxpkFor(g, phy, emit)}]}`)]), d.udp, "127.0.0.1", r));
    }
    const u = await stored(d, fcnt, 4);
    shapes.push(u.length === 1 ? u[0].rx_info.length : -u.length);
  }
  const dGot = (await d.metric("lorageo_gateway_datagrams_total")) - dBefore;
  const eGot = (await e.metric("lorageo_gateway_datagrams_total")) - eBefore;
  check(dGot > 0 && eGot > 0 && dGot + eGot === 32, `the kernel spread the datagrams: D ${dGot}, E ${eGot}`);
  check(shapes.every((n) => n === 4), `each frame one uplink with its 4 receptions: ${shapes.join(" ")}`);
  const after = (await d.metric("lorageo_uplinks_total")) + (await e.metric("lorageo_uplinks_total"));
  check(after - before === 8, `each processed once: ${after - before}`);
  for (const s of socks) s.close();

  // 6. one duty-cycle budget per gateway: confirmed uplinks at SF12 heard through gateway 2
  // at A, whose PULL path B holds; each ACK goes out in RX1 (868.1 MHz, 1 % sub-band: 36 s
  // an hour) through B until B, which keeps the gateway's account, refuses; A then sends it
  // in RX2 (869.525 MHz, 10 %). Then the gateway's PULL path moves to A, which starts from
  // B's account (mirrored in Redis): RX1 is still refused.
  const g2 = gateways[2];
  await b.pull(g2);
  await sleep(100);
  g2.inbox.length = 0;
  // time on air of a LoRaWAN downlink (no CRC, explicit header, CR 4/5), written here from
  // the SX127x formula, independent of lorageo
  const toa = (size, sf, bwHz) => {
    const ts = 2 ** sf / bwHz, de = sf >= 11 && bwHz === 125000 ? 1 : 0;
    const n = 8 + Math.max(Math.ceil((8 * size - 4 * sf + 28) / (4 * (sf - 2 * de))) * 5, 0);
    return (n + 12.25) * ts;
  };
  const ACKS = 42; // an ACK (12 bytes) at SF12 is 0.99 s on air: 36 fit in the hour
  for (let k = 0; k < ACKS; k++) {
    emit += 10000000000n;
    const phy = dataUp(30 + k, "c", true);
    await a.push(g2, rxpkFor(g2, phy, emit, 0, 1000000, "868.100000", "SF12BW125"));
    await sleep(80);
  }
  await sleep(2500);
  const resps = pullResps(g2);
  const rx1 = resps.filter((r) => r.txpk.freq === 868.1), rx2 = resps.filter((r) => r.txpk.freq === 869.525);
  const rx1Air = rx1.reduce((t, r) => t + toa(r.txpk.size, 12, 125000), 0);
  check(rx1.length >= 30 && rx1Air <= 36 && rx1Air + toa(rx2[0]?.txpk.size ?? 0, 12, 125000) > 36,
        `RX1 through B until the sub-band's 36 s were spent: ${rx1.length} downlinks, ${rx1Air.toFixed(2)} s`);
  check(rx1.length + rx2.length === ACKS && rx2.length >= 1,
        `the rest in RX2, every ACK sent once: ${rx1.length} + ${rx2.length} of ${ACKS}`);
  check(/DUTY_CYCLE/.test(b.log) && (await a.metric('lorageo_downlinks_total{result="duty_cycle"}')) === rx2.length,
        "B refused them for the duty cycle; A counted each refusal");
  // the PULL path moves to A: its first downlink to the gateway starts from B's account
  await a.pull(g2);
  await sleep(100);
  g2.inbox.length = 0;
  emit += 10000000000n;
  await a.push(g2, rxpkFor(g2, dataUp(30 + ACKS, "c", true), emit, 0, 1000000, "868.100000", "SF12BW125"));
  await sleep(600);
  const moved = pullResps(g2);
  check(moved.length === 1 && moved[0].txpk.freq === 869.525,
        `A, now holding the gateway, knows its RX1 budget is spent: ${JSON.stringify(moved.map((r) => r.txpk.freq))}`);

  // 7. Redis goes away: each instance processes what it receives, and says so
  await redis.stop();
  emit += 10000000000n;
  const phy = dataUp(100, "no redis");
  for (const g of gateways) await a.push(g, rxpkFor(g, phy, emit));
  const u = await stored(b, 100, 4);
  check(u.length === 1 && u[0].rx_info.length === 4, `stored without Redis: ${u.length}`);
  check(/Redis unreachable/.test(a.log), "and said so");
} catch (e) {
  check(false, `exception: ${e.stack}`);
}
for (const i of instances) await i.stop();
await redis.stop();
await sleep(300);
for (const g of gateways) g.sock.close();
if (tally.failures) for (const [k, i] of instances.entries()) console.error(`instance ${k}:\n${i.log}`);
console.log(`cluster: ${tally.checks} checks, ${tally.failures} failed`);
process.exit(tally.failures ? 1 : 0);
