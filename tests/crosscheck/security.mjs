// Issue 16 end to end: what an attacker on the network (or a broken device) can make the
// real server do.
//   - a captured confirmed uplink replayed 1,500 times on distinct frequencies gets at most
//     NbTrans ACKs and does not move the downlink counter;
//   - 1,500 fresh confirmed uplinks get ACKs only while the gateway's sub-band budgets over
//     the hour allow (airtime computed here from the PULL_RESPs: at most 36 s in the 1 %
//     band, 360 s in RX2's 10 % band); the refusals are counted;
// Usage: node security.mjs path/to/lorageo
import lora from "lora-packet";
import {
  ABP, api, app, armTimeout, base, check, clock, dir, gateways, header, metric, nwk, pullResps, rxpkFor, send,
  server, sleep, start, stop, tally, waitHealthy,
} from "./harness.mjs";
import fs from "node:fs";

armTimeout(120000);

// Time on air of a LoRaWAN downlink (Semtech AN1200.13; no payload CRC, CR 4/5, explicit
// header, 8-symbol preamble, low data rate optimisation at SF11/12 on 125 kHz), in s.
function airtimeS(datr, size) {
  const [, sf, bw] = /SF(\d+)BW(\d+)/.exec(datr).map(Number);
  const tsym = 2 ** sf / (bw * 1000), de = sf >= 11 && bw === 125 ? 1 : 0;
  const n = 8 + Math.max(Math.ceil((8 * size - 4 * sf + 28) / (4 * (sf - 2 * de))) * 5, 0);
  return (8 + 4.25 + n) * tsym;
}
const band = (f) => (f >= 868.0 && f <= 868.6 ? "M" : f >= 869.4 && f <= 869.65 ? "P" : "other");

const g = gateways[0];
const rxpkAt = (phy, freqHz, tmst) =>
  rxpkFor(g, phy, clock.emit, 0, tmst, (freqHz / 1e6).toFixed(6));
async function burst(frames) { // [phy, freqHz] each in its own PUSH_DATA, paced
  for (let i = 0; i < frames.length; i++) {
    const [phy, f] = frames[i];
    await send(g, Buffer.concat([header(0, g.eui), Buffer.from(`{"rxpk":[${rxpkAt(phy, f, 1000000 + i * 1000)}]}`)]));
    if (i % 50 === 49) await sleep(20);
  }
}

try {
  start();
  await waitHealthy();
  let r = await api("POST", "/api/gateways", { gateway_eui: g.eui, name: "g", latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check(r.status === 201, `gateway: ${r.text}`);
  r = await api("POST", "/api/devices", ABP);
  check(r.status === 201, `device: ${r.text}`);
  await send(g, header(2, g.eui)); // PULL_DATA: the downlink path

  // ---- one captured confirmed uplink, replayed 1,500 times on distinct frequencies
  const captured = lora.fromFields({ MType: "Confirmed Data Up", DevAddr: Buffer.from(ABP.dev_addr, "hex"),
    FCnt: 1, FPort: 2, payload: Buffer.from("captured") }, app, nwk).getPHYPayload();
  await send(g, Buffer.concat([header(0, g.eui), Buffer.from(`{"rxpk":[${rxpkAt(captured, 868100000, 1000)}]}`)]));
  await sleep(400);
  const down0 = (await api("GET", `/api/devices/${ABP.dev_eui}`)).json.f_cnt_down_next;
  g.inbox.length = 0;
  await burst(Array.from({ length: 1500 }, (_, i) => [captured, 868000200 + 400 * i]));
  for (let t = 0; t < 100 && (await metric("lorageo_retransmissions_total")) < 1500; t++) await sleep(100);
  await sleep(300);
  const replayAcks = pullResps(g);
  const replayAir = replayAcks.reduce((s, p) => s + airtimeS(p.txpk.datr, p.txpk.size), 0);
  const retx = await metric("lorageo_retransmissions_total");
  check(retx === 1500, `1,500 retransmissions seen (${retx})`);
  check(replayAcks.length === 0, `the replays got no ACK beyond the frame's one (NbTrans 1): ${replayAcks.length}`);
  check(replayAir <= 36, `their airtime within the hour's budget (${replayAir.toFixed(2)} s)`);
  const limited = await metric('lorageo_downlinks_total{result="ack_limit"}');
  check(limited === 1500, `every refused ACK counted as ack_limit (${limited})`);
  const down1 = (await api("GET", `/api/devices/${ABP.dev_eui}`)).json.f_cnt_down_next;
  check(down1 === down0, `the downlink counter did not move (${down0} -> ${down1})`);

  // ---- 1,500 fresh confirmed uplinks on distinct frequencies: the sub-band budgets hold
  g.inbox.length = 0;
  const fresh = Array.from({ length: 1500 }, (_, i) => [lora.fromFields({ MType: "Confirmed Data Up",
    DevAddr: Buffer.from(ABP.dev_addr, "hex"), FCnt: 2 + i, FPort: 2, payload: Buffer.from("x") }, app, nwk).getPHYPayload(),
    868000000 + 400 * (i + 1)]);
  const upBefore = await metric("lorageo_uplinks_total");
  await burst(fresh);
  for (let t = 0; t < 200 && (await metric("lorageo_uplinks_total")) - upBefore < 1500; t++) await sleep(100);
  await sleep(300);
  const air = { M: 0, P: 0, other: 0 };
  for (const p of pullResps(g)) air[band(p.txpk.freq)] += airtimeS(p.txpk.datr, p.txpk.size);
  check((await metric("lorageo_uplinks_total")) - upBefore === 1500, "1,500 fresh uplinks stored");
  check(air.M <= 36 && air.M > 30, `RX1 band M (1 %): ${air.M.toFixed(2)} s of 36 s`);
  check(air.P <= 360, `RX2 band P (10 %): ${air.P.toFixed(2)} s of 360 s`);
  check(air.other === 0, "nothing outside the sub-bands");
  check((await metric('lorageo_downlinks_total{result="duty_cycle"}')) > 0, "duty-cycle refusals counted");
  console.log(`security: ACK airtime of 1,500 fresh confirmed uplinks: band M ${air.M.toFixed(2)} s, band P ${air.P.toFixed(2)} s; ` +
              `${pullResps(g).length} ACKs`);
} catch (e) {
  tally.failures++;
  console.error("FAIL exception:", e);
} finally {
  if (server && server.exitCode === null) await stop();
  for (const x of gateways) x.sock.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`security: ${tally.checks} checks, ${tally.failures} failed`);
if (tally.failures) {
  console.error(server?.log?.slice(-3000) ?? "");
  process.exit(1);
}
