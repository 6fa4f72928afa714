// Cross-check of `lorageo decode` against lora-packet, an independent LoRaWAN
// implementation (npm, pure JavaScript). For a few hundred frames built from random
// fields with a fixed seed, lora-packet encodes (and encrypts, and computes the MIC);
// lorageo must decode every field the same, verify the MIC and decrypt the payload.
// Then one random byte of each frame is changed: lorageo must never report
// mic_ok: true for it (it may also refuse the frame outright).
//
// Usage: node crosscheck.mjs [path/to/lorageo] [count]
import { execFileSync } from "node:child_process";
import lora from "lora-packet";

const BIN = process.argv[2] ?? "../../build/lorageo";
const COUNT = Number(process.argv[3] ?? 300);

// mulberry32: a small seeded PRNG so every run checks the same frames.
let seed = 0x5eed1234;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(256)));
const bool = () => rand() < 0.5;
const hex = (b) => Buffer.from(b).toString("hex");

function decode(phy, args) {
  try {
    const out = execFileSync(BIN, ["decode", hex(phy), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { ok: true, json: JSON.parse(out) };
  } catch (e) {
    return { ok: false, status: e.status, stderr: String(e.stderr) };
  }
}

let failures = 0;
let checks = 0;
function expect(cond, what, ctx) {
  checks++;
  if (!cond) {
    failures++;
    if (failures <= 20) console.error(`FAIL ${what}\n  ${JSON.stringify(ctx)}`);
  }
}
function eq(got, want, what, ctx) {
  expect(JSON.stringify(got) === JSON.stringify(want), `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`, ctx);
}

const DATA_MTYPES = [
  ["Unconfirmed Data Up", "unconfirmed_data_up", true],
  ["Confirmed Data Up", "confirmed_data_up", true],
  ["Unconfirmed Data Down", "unconfirmed_data_down", false],
  ["Confirmed Data Down", "confirmed_data_down", false],
];

function dataCase() {
  const [mtName, mtype, up] = DATA_MTYPES[int(4)];
  const nwk = bytes(16), app = bytes(16);
  const devAddr = bytes(4);
  const fcnt16 = int(65536);
  const msb = bool() ? 0 : int(65536);
  // lora-packet copies FCntMSBytes into B0/A_i as given, after the reversed 16-bit
  // FCnt: so it takes the upper half in on-air (little-endian) byte order.
  const msbBytes = Buffer.from([msb & 0xff, msb >> 8]);
  const portZero = rand() < 0.25;
  const fopts = portZero ? Buffer.alloc(0) : bytes(bool() ? 0 : 1 + int(15));
  const payload = bytes(portZero ? 1 + int(40) : int(60));
  const fctrl = { ADR: bool(), ACK: bool() };
  if (up) fctrl.ADRACKReq = bool();
  else fctrl.FPending = bool();
  const pkt = lora.fromFields(
    { MType: mtName, DevAddr: devAddr, FCtrl: fctrl, FCnt: fcnt16, FOpts: fopts, FPort: portZero ? 0 : 1 + int(223), payload },
    app, nwk, undefined, msbBytes,
  );
  const phy = pkt.getPHYPayload();
  const args = ["--nwkskey", hex(nwk), "--appskey", hex(app), "--fcnt-msb", String(msb)];
  const ctx = { phy: hex(phy), args };
  const r = decode(phy, args);
  expect(r.ok, `decode accepted a lora-packet data frame (${r.stderr})`, ctx);
  if (!r.ok) return { phy, args };
  const j = r.json;
  const b = pkt.getBuffers();
  eq(j.mtype, mtype, "mtype", ctx);
  eq(j.dev_addr, hex(b.DevAddr), "dev_addr", ctx);
  eq(j.f_cnt, msb * 65536 + pkt.getFCnt(), "f_cnt", ctx);
  eq(j.fctrl.adr, pkt.getFCtrlADR(), "fctrl.adr", ctx);
  eq(j.fctrl.ack, pkt.getFCtrlACK(), "fctrl.ack", ctx);
  if (up) eq(j.fctrl.adr_ack_req, pkt.getFCtrlADRACKReq(), "fctrl.adr_ack_req", ctx);
  else eq(j.fctrl.f_pending, pkt.getFCtrlFPending(), "fctrl.f_pending", ctx);
  eq(j.fctrl.f_opts_len, b.FOpts.length, "fctrl.f_opts_len", ctx);
  eq(j.f_opts, hex(b.FOpts), "f_opts", ctx);
  eq(j.f_port, pkt.getFPort(), "f_port", ctx);
  eq(j.frm_payload, hex(b.FRMPayload), "frm_payload", ctx);
  eq(j.mic, hex(b.MIC), "mic", ctx);
  eq(lora.verifyMIC(pkt, nwk, undefined, msbBytes), true, "lora-packet verifies its own MIC", ctx);
  eq(j.mic_ok, true, "mic_ok", ctx);
  eq(j.data, hex(payload), "data (decrypted)", ctx);
  eq(hex(lora.decrypt(pkt, app, nwk, msbBytes)), hex(payload), "lora-packet decrypt", ctx);
  return { phy, args };
}

function joinRequestCase() {
  const appKey = bytes(16);
  const appEui = bytes(8), devEui = bytes(8), devNonce = bytes(2);
  const pkt = lora.fromFields({ MType: "Join Request", AppEUI: appEui, DevEUI: devEui, DevNonce: devNonce }, undefined, undefined, appKey);
  const phy = pkt.getPHYPayload();
  const args = ["--appkey", hex(appKey)];
  const ctx = { phy: hex(phy), args };
  const r = decode(phy, args);
  expect(r.ok, `decode accepted a join-request (${r.stderr})`, ctx);
  if (!r.ok) return { phy, args };
  eq(r.json.mtype, "join_request", "mtype", ctx);
  eq(r.json.join_eui, hex(appEui), "join_eui", ctx);
  eq(r.json.dev_eui, hex(devEui), "dev_eui", ctx);
  eq(r.json.dev_nonce, devNonce.readUInt16BE(0), "dev_nonce", ctx);
  eq(r.json.mic, hex(pkt.getBuffers().MIC), "mic", ctx);
  eq(r.json.mic_ok, true, "mic_ok", ctx);
  return { phy, args };
}

function joinAcceptCase() {
  const appKey = bytes(16);
  const appNonce = bytes(3), netId = bytes(3), devAddr = bytes(4);
  const dl = int(128), rxDelay = int(16);
  const withCf = bool();
  const fields = { MType: "Join Accept", AppNonce: appNonce, NetID: netId, DevAddr: devAddr, DLSettings: dl, RxDelay: rxDelay };
  if (withCf) fields.CFList = bytes(16);
  const pkt = lora.fromFields(fields, undefined, undefined, appKey);
  const phy = pkt.getPHYPayload();
  const args = ["--appkey", hex(appKey)];
  const ctx = { phy: hex(phy), args };
  const r = decode(phy, args);
  expect(r.ok, `decode accepted a join-accept (${r.stderr})`, ctx);
  if (!r.ok) return { phy, args };
  // lora-packet's own decryption of the same bytes, as the reference.
  const plain = lora.fromWire(lora.decryptJoinAccept(lora.fromWire(phy), appKey));
  const pb = plain.getBuffers();
  eq(r.json.mtype, "join_accept", "mtype", ctx);
  eq(r.json.join_nonce, appNonce.readUIntBE(0, 3), "join_nonce", ctx);
  eq(r.json.net_id, hex(netId), "net_id", ctx);
  eq(r.json.dev_addr, hex(devAddr), "dev_addr", ctx);
  eq(r.json.dl_settings, dl, "dl_settings", ctx);
  eq(r.json.rx1_dr_offset, plain.getDLSettingsRxOneDRoffset(), "rx1_dr_offset", ctx);
  eq(r.json.rx2_dr, plain.getDLSettingsRxTwoDataRate(), "rx2_dr", ctx);
  eq(r.json.rx_delay, plain.getRxDelayDel(), "rx_delay", ctx);
  eq(r.json.cf_list, withCf ? hex(fields.CFList) : null, "cf_list", ctx);
  eq(r.json.mic, hex(pb.MIC), "mic", ctx);
  eq(r.json.mic_ok, true, "mic_ok", ctx);
  return { phy, args };
}

const makers = [dataCase, dataCase, dataCase, joinRequestCase, joinAcceptCase];
const kinds = {};
let tamperedRefused = 0, tamperedMicFalse = 0;
for (let i = 0; i < COUNT; i++) {
  const maker = makers[i % makers.length];
  kinds[maker.name] = (kinds[maker.name] ?? 0) + 1;
  const { phy, args } = maker();
  // Tamper: flip one random bit pattern in one random byte.
  const bad = Buffer.from(phy);
  const at = int(bad.length);
  bad[at] ^= 1 + int(255);
  const r = decode(bad, args);
  const ctx = { phy: hex(phy), tampered: hex(bad), at, args };
  if (!r.ok) {
    expect(r.status === 1 && r.stderr.trim().split("\n").length === 1, "a refused frame exits 1 with one line", { ...ctx, r });
    tamperedRefused++;
  } else {
    expect(r.json.mic_ok !== true, "tampered frame must not verify", { ...ctx, out: r.json });
    if (r.json.mic_ok === false) tamperedMicFalse++;
  }
}

console.log(`crosscheck: ${COUNT} frames (${JSON.stringify(kinds)}), ${checks} checks; tampered: ${tamperedMicFalse} mic_ok=false, ${tamperedRefused} refused, ${COUNT - tamperedMicFalse - tamperedRefused} without a MIC to check`);
if (failures) {
  console.error(`crosscheck: ${failures} FAILED`);
  process.exit(1);
}
