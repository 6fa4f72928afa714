// Gateway trust on the Semtech UDP protocol (issue 16 item 2), end to end: a provisioned
// gateway's source host is pinned at its first datagram (the port is free: a forwarder's
// two sockets, a restarted forwarder's new ones). A spoofer sending its EUI from another
// host (127.0.0.2 here; the gateways are 127.0.0.1) gets no PULL_ACK (no downlink path: the next downlink still goes to
// the real gateway), no PUSH_ACK, and its forged reception is neither stored nor used for
// a position; it is counted as dropped for "gateway_address". A gateway that really moved
// keeps sending from its new address with nothing from the old: after
// [security] gateway_move_after_s (2 s here) the pin moves, counted. A `stat` position never
// moves a surveyed gateway unless it is marked position_from_gateway; with
// [security] gateway_networks only those networks are heard at all.
// Usage: node gateway_trust.mjs path/to/lorageo
import dgram from "node:dgram";
import {
  ABP, api, armTimeout, check, clock, dataUp, frameFromAll, gateways, header, metric, pull, pullResps, runServerTest, rxpkFor, send, sleep, start, stop, tally, udpPort, waitHealthy,
} from "./harness.mjs";

armTimeout(90000);
const spoofer = dgram.createSocket("udp4");
await new Promise((r) => spoofer.bind(0, "127.0.0.2", r));
const inbox = [];
spoofer.on("message", (m) => inbox.push(m));
const sendFrom = (sock, buf) => new Promise((r) => sock.send(buf, udpPort, "127.0.0.1", r));
const dropped = async () => {
  const text = await (await fetch(`http://127.0.0.1:${udpPort + 1}/metrics`)).text();
  const m = /lorageo_rx_dropped_total\{reason="gateway_address"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : NaN;
};
await runServerTest("gateway_trust", async () => {
  start({ LORAGEO_SECURITY_GATEWAY_MOVE_AFTER_S: "2" });
  await waitHealthy();
  for (const g of gateways)
    await api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check((await api("POST", "/api/devices", ABP)).status === 201, "device provisioned");
  for (const g of gateways) await pull(g);
  await sleep(200);
  check(gateways.every((g) => g.inbox.some((m) => m[3] === 4)), "every gateway's PULL_DATA acknowledged");

  // the spoofer claims gateway 1's EUI: PULL_DATA (the downlink path) and PUSH_DATA
  const g1 = gateways[0];
  await sendFrom(spoofer, header(2, g1.eui));
  await sleep(300);
  check(!inbox.some((m) => m[3] === 4), "no PULL_ACK for the spoofer");
  check(await dropped() === 1, "counted as gateway_address");
  await frameFromAll(dataUp(1, "one"));
  clock.emit += 1000000000n;
  const forged = rxpkFor(g1, dataUp(2, "two"), clock.emit, 3000); /* 3 us late: ~900 m */
  await sendFrom(spoofer, Buffer.concat([header(0, g1.eui), Buffer.from(`{"rxpk":[${forged}]}`)]));
  for (const g of gateways.slice(1)) await sendFrom(g.sock, Buffer.concat([header(0, g.eui),
    Buffer.from(`{"rxpk":[${rxpkFor(g, dataUp(2, "two"), clock.emit)}]}`)]));
  await sleep(600);
  check(!inbox.some((m) => m[3] === 1), "no PUSH_ACK for the spoofer");
  const ups = (await api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=5`)).json.items;
  const two = ups.find((u) => u.f_cnt === 2);
  check(two && two.rx_info.length === 3 && !two.rx_info.some((r) => r.gateway_eui === g1.eui),
    `the forged reception is not stored (${two?.rx_info.map((r) => r.gateway_eui)})`);
  check(await dropped() === 2, "both spoofed datagrams counted");

  // a downlink still goes to the real gateway 1 (it heard the device best)
  const before = g1.inbox.length;
  check((await api("POST", `/api/devices/${ABP.dev_eui}/queue`, { f_port: 3, data: "AQI=" })).status < 300, "downlink queued");
  await frameFromAll(dataUp(3, "three"));
  await sleep(1500);
  const resps = gateways.flatMap((g) => pullResps(g));
  check(resps.length >= 1 && !inbox.some((m) => m[3] === 3), `the downlink went to a real gateway, none to the spoofer (${resps.length})`);
  check(g1.inbox.length >= before, "gateway 1 still answered");

  // gateway 4 really moves: silent on its old host, PULL_DATA from a new one for > 2 s
  const g4 = gateways[3];
  const moved = dgram.createSocket("udp4");
  await new Promise((r) => moved.bind(0, "127.0.0.3", r));
  const got = [];
  moved.on("message", (m) => got.push(m));
  for (let i = 0; i < 12 && !got.some((m) => m[3] === 4); i++) {
    await sendFrom(moved, header(2, g4.eui));
    await sleep(300);
  }
  check(got.some((m) => m[3] === 4), "a gateway that really moved is acknowledged after gateway_move_after_s");
  check(await metric("lorageo_gateway_moves_total") === 1, "and counted as a move");
  moved.close();

  // stat positions (issue 16): Sydney's, sent by gateway 2 (surveyed), must not move it;
  // gateway 3 marked position_from_gateway takes its GPS's position from its stat
  const sydney = { lati: -33.8688, long: 151.2093, alti: 20 };
  const stat = (g) => send(g, Buffer.concat([header(0, g.eui),
    Buffer.from(`{"stat":{"time":"2024-01-01 00:00:00 GMT","lati":${sydney.lati},"long":${sydney.long},` +
      `"alti":${sydney.alti},"rxnb":1,"rxok":1,"rxfw":1,"ackr":100.0,"dwnb":0,"txnb":0}}`)]));
  const [g2, g3] = [gateways[1], gateways[2]];
  const flagged = await api("POST", "/api/gateways", { gateway_eui: g3.eui, latitude: g3.lat,
    longitude: g3.lon, altitude: g3.alt, position_from_gateway: true });
  check(flagged.status === 201 && flagged.json.position_from_gateway === true, "position_from_gateway set through the API");
  await stat(g2);
  await stat(g3);
  await sleep(500);
  const s2 = (await api("GET", `/api/gateways/${g2.eui}`)).json;
  check(Math.abs(s2.latitude - g2.lat) < 1e-9 && Math.abs(s2.longitude - g2.lon) < 1e-9 && s2.position_from_gateway === false,
    `a stat with Sydney's position does not move surveyed gateway 2 (${s2.latitude}, ${s2.longitude})`);
  const s3 = (await api("GET", `/api/gateways/${g3.eui}`)).json;
  check(Math.abs(s3.latitude - sydney.lati) < 1e-6 && Math.abs(s3.longitude - sydney.long) < 1e-6,
    `gateway 3 (position_from_gateway) is moved by its stat (${s3.latitude}, ${s3.longitude})`);
  await frameFromAll(dataUp(4, "four"), [gateways[1], gateways[2], gateways[3]]);
  await sleep(800);
  const four = (await api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=5`)).json.items.find((u) => u.f_cnt === 4);
  const rx2 = four?.rx_info.find((r) => r.gateway_eui === g2.eui), rx3 = four?.rx_info.find((r) => r.gateway_eui === g3.eui);
  check(rx2 && Math.abs(rx2.latitude - g2.lat) < 1e-9, `the packet path keeps gateway 2 where it was surveyed (${rx2?.latitude})`);
  check(rx3 && Math.abs(rx3.latitude - sydney.lati) < 1e-6, `and places gateway 3 where its GPS says (${rx3?.latitude})`);
  await stop();

  // [security] gateway_networks: only 127.0.0.1 may send; 127.0.0.2 is dropped and counted
  start({ LORAGEO_SECURITY_GATEWAY_NETWORKS: "127.0.0.1/32, ::1/128" });
  await waitHealthy();
  inbox.length = 0;
  await sendFrom(spoofer, header(2, gateways[0].eui));
  await sendFrom(spoofer, header(2, "aa555a00000000ff")); /* unprovisioned: refused all the same */
  const g4inbox = g4.inbox.length;
  await pull(g4);
  await sleep(400);
  check(!inbox.some((m) => m[3] === 4), "no PULL_ACK for datagrams from outside gateway_networks");
  check(await metric('lorageo_rx_dropped_total{reason="gateway_network"}') === 2,
    "both counted as gateway_network");
  check(g4.inbox.slice(g4inbox).some((m) => m[3] === 4), "a gateway inside gateway_networks is acknowledged");
}, async () => {
  spoofer.close();
  for (const g of gateways) g.sock.close();
});
