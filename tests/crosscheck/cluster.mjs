// Two `lorageo serve` instances sharing one PostgreSQL database and one Redis ([cluster]
// redis), each holding half of the gateways, as behind a UDP load balancer (issue 8):
//   - a frame whose copies land on both instances is one uplink with every reception;
//   - a late copy that lands on the instance that did not store the frame is attached to
//     it all the same; one that lands on the owner too;
//   - no frame is processed twice (uplinks counted across the instances);
//   - with Redis gone, each instance goes on processing what it receives, and says so.
// A real redis-server is started on a free port. Needs LORAGEO_TEST_PG (scripts/test.sh).
// usage: node cluster.mjs LORAGEO REDIS-SERVER
import { spawn } from "node:child_process";
import net from "node:net";
import {
  ABP, BIN, armTimeout, check, database, dataUp, gateways, header, rxpkFor, sleep, tally,
} from "./harness.mjs";

if (!process.env.LORAGEO_TEST_PG) {
  console.log("cluster: skipped (LORAGEO_TEST_PG not set)");
  process.exit(0);
}
armTimeout(60000);

const base0 = 24000 + Math.floor(Math.random() * 15000);
const redisPort = base0 + 5;
const instances = [0, 1].map((k) => ({ udp: base0 + 10 * k, http: base0 + 10 * k + 1, log: "" }));
let redis = null;

async function listening(port, ms = 10000) {
  for (let t = 0; t < ms; t += 50) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, "127.0.0.1", () => { c.destroy(); r(true); });
      c.on("error", () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}
function start(inst) {
  inst.proc = spawn(BIN, ["serve"], {
    env: { ...process.env, LORAGEO_SERVER_UDP_BIND: `127.0.0.1:${inst.udp}`,
           LORAGEO_SERVER_HTTP_BIND: `127.0.0.1:${inst.http}`, LORAGEO_SERVER_DATABASE: database,
           LORAGEO_CLUSTER_REDIS: `redis://127.0.0.1:${redisPort}` },
    stdio: ["ignore", "inherit", "pipe"],
  });
  inst.proc.stderr.on("data", (d) => (inst.log += d));
}
async function healthy(inst) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${inst.http}/api/health`)).ok) return;
    } catch {}
    await sleep(50);
  }
  throw new Error("instance did not come up:\n" + inst.log);
}
async function api(inst, method, url, body) {
  const r = await fetch(`http://127.0.0.1:${inst.http}${url}`,
    { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}
async function metric(inst, name) {
  const text = await (await fetch(`http://127.0.0.1:${inst.http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ")[1]) : NaN;
}
const pushTo = (g, inst, rxpk) => new Promise((r) =>
  g.sock.send(Buffer.concat([header(0, g.eui), Buffer.from(`{"rxpk":[${rxpk}]}`)]), inst.udp, "127.0.0.1", r));
async function uplink(inst, fcnt) {
  const items = (await api(inst, "GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=20`)).json.items;
  return items.filter((u) => u.f_cnt === fcnt);
}
let emit = BigInt(Date.now()) * 1000000n;

try {
  redis = spawn(process.argv[3] ?? "redis-server",
                ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                { stdio: "ignore" });
  await listening(redisPort);
  const [a, b] = instances;
  start(a);
  await healthy(a);
  start(b);
  await healthy(b);
  check(/cluster: sharing frames/.test(a.log) && /cluster: sharing frames/.test(b.log), "both in the cluster");
  for (const g of gateways)
    await api(a, "POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check((await api(a, "POST", "/api/devices", ABP)).status === 201, "device added");

  // 1. half the gateways on each instance: one uplink, four receptions, none late
  emit += 10000000000n;
  let phy = dataUp(1, "split");
  for (const [i, inst] of [[0, a], [1, b], [2, a], [3, b]]) await pushTo(gateways[i], inst, rxpkFor(gateways[i], phy, emit));
  await sleep(800);
  let u = await uplink(b, 1);
  check(u.length === 1 && u[0].rx_info.length === 4 && u[0].rx_info.every((r) => !r.late),
        `one uplink with the four receptions: ${JSON.stringify(u.map((x) => x.rx_info.map((r) => [r.gateway_eui.slice(-1), r.late])))}`);

  // 2. a late copy on the instance that does not own the frame (A saw it first)
  emit += 10000000000n;
  phy = dataUp(2, "late elsewhere");
  for (const [i, inst] of [[0, a], [1, b], [2, a]]) await pushTo(gateways[i], inst, rxpkFor(gateways[i], phy, emit));
  await sleep(600);
  await pushTo(gateways[3], b, rxpkFor(gateways[3], phy, emit));
  await sleep(400);
  u = await uplink(a, 2);
  check(u.length === 1 && u[0].rx_info.length === 4 && u[0].rx_info.filter((r) => r.late).length === 1,
        `the late copy at B attached to A's uplink: ${JSON.stringify(u.map((x) => x.rx_info.map((r) => [r.gateway_eui.slice(-1), r.late])))}`);

  // 3. and one on the owner (B saw it first)
  emit += 10000000000n;
  phy = dataUp(3, "late at the owner");
  for (const [i, inst] of [[1, b], [0, a], [2, a]]) await pushTo(gateways[i], inst, rxpkFor(gateways[i], phy, emit));
  await sleep(600);
  await pushTo(gateways[3], b, rxpkFor(gateways[3], phy, emit));
  await sleep(400);
  u = await uplink(a, 3);
  check(u.length === 1 && u[0].rx_info.length === 4 && u[0].rx_info.filter((r) => r.late).length === 1,
        `the late copy at the owner attached: ${JSON.stringify(u.map((x) => x.rx_info.map((r) => [r.gateway_eui.slice(-1), r.late])))}`);

  const processed = (await metric(a, "lorageo_uplinks_total")) + (await metric(b, "lorageo_uplinks_total"));
  check(processed === 3, `each frame processed once across the instances: ${processed}`);

  // 4. Redis goes away: each instance processes what it receives, and says so
  redis.kill("SIGTERM");
  await new Promise((r) => redis.on("exit", r));
  emit += 10000000000n;
  phy = dataUp(4, "no redis");
  for (const g of gateways) await pushTo(g, a, rxpkFor(g, phy, emit));
  await sleep(800);
  u = await uplink(b, 4);
  check(u.length === 1 && u[0].rx_info.length === 4, `stored without Redis: ${u.length}`);
  check(/Redis unreachable/.test(a.log), "and said so");
} catch (e) {
  check(false, `exception: ${e.stack}\nA:\n${instances[0].log}\nB:\n${instances[1].log}`);
}
for (const i of instances) i.proc?.kill("SIGTERM");
if (redis && redis.exitCode === null) redis.kill("SIGTERM");
await sleep(300);
for (const g of gateways) g.sock.close();
if (tally.failures) console.error(`A:\n${instances[0].log}\nB:\n${instances[1].log}`);
console.log(`cluster: ${tally.checks} checks, ${tally.failures} failed`);
process.exit(tally.failures ? 1 : 0);
