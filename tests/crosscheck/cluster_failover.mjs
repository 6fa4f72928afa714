// Killing an instance mid-stream loses no accepted uplink (issue 8). Three `lorageo serve`
// instances share PostgreSQL and a real redis-server; a device's frames stream in through
// three gateways, one per instance, each instance owning some of them. Right after A has
// acknowledged two frames it owns — one heard by every gateway, one heard only through A —
// A is killed (SIGKILL) inside their de-duplication window, and its gateway's traffic
// moves to B, as a UDP load balancer would. Then:
//   - every frame any instance acknowledged is stored exactly once (none lost, none twice);
//   - A's two open frames are picked up by a survivor, with A's own receptions;
//   - the survivors say so in their logs and metrics; the frames are kept although the
//     device's counter moved past them while A's silence went unnoticed (3 s).
// usage: node cluster_failover.mjs LORAGEO REDIS-SERVER
import {
  ABP, armTimeout, check, dataUp, gateways, instance, redisServer, rxpkFor, sleep, tally,
} from "./harness.mjs";

if (!process.env.LORAGEO_TEST_PG) {
  console.log("cluster_failover: skipped (LORAGEO_TEST_PG not set)");
  process.exit(0);
}
armTimeout(90000);

const redis = redisServer();
const env = { LORAGEO_CLUSTER_REDIS: redis.url };
const instances = [instance(0, env), instance(1, env), instance(2, env)];
const [a, b, c] = instances;
let emit = BigInt(Date.now()) * 1000000n;
const FRAMES = 30, KILL_AFTER = 16; // frames 15 (all gateways) and 16 (gateway 0 only) are A's

try {
  await redis.start();
  for (const i of instances) {
    i.start();
    await i.healthy();
  }
  for (const g of gateways)
    await b.api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt });
  check((await b.api("POST", "/api/devices", ABP)).status === 201, "device added");

  const accepted = new Map(); // FCnt -> gateway EUIs whose copy was acknowledged
  let aAlive = true;
  for (let fcnt = 1; fcnt <= FRAMES; fcnt++) {
    emit += 10000000000n;
    const phy = dataUp(fcnt, `stream ${fcnt}`);
    // gateway k's instance: 0 -> A (B once A is gone), 1 -> B, 2 -> C; the order rotates
    // so that every instance owns some frames; A owns 15 and 16
    let route = [[0, aAlive ? a : b], [1, b], [2, c]];
    if (fcnt === KILL_AFTER) route = [[0, a]];
    else if (fcnt !== KILL_AFTER - 1) route = route.slice(fcnt % 3).concat(route.slice(0, fcnt % 3));
    const got = [];
    await Promise.all(route.map(async ([k, inst]) => {
      if (await inst.pushAcked(gateways[k], rxpkFor(gateways[k], phy, emit))) got.push(gateways[k].eui);
    }));
    if (got.length) accepted.set(fcnt, got);
    if (fcnt === KILL_AFTER) {
      a.proc.kill("SIGKILL"); // inside frame 16's window (and 15's, unless A was quick)
      aAlive = false;
    }
    // 15 and 16 share A's window; the others come as a device under the duty cycle would
    await sleep(fcnt === KILL_AFTER - 1 ? 20 : 500);
  }
  check(accepted.size === FRAMES, `every frame acknowledged by some instance: ${accepted.size}`);
  check(accepted.get(KILL_AFTER)?.length === 1, "frame 16 acknowledged by A alone");

  // a survivor notices A's silence within 3 s and looks for its frames every second
  let stored = [];
  for (let t = 0; t < 10000; t += 250) {
    await sleep(250);
    stored = (await b.api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=100`)).json.items;
    if (new Set(stored.map((u) => u.f_cnt)).size >= FRAMES) break;
  }
  await sleep(500);
  stored = (await b.api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=100`)).json.items;
  const byFcnt = new Map();
  for (const u of stored) byFcnt.set(u.f_cnt, [...(byFcnt.get(u.f_cnt) ?? []), u]);
  const lost = [...accepted.keys()].filter((f) => !byFcnt.has(f));
  const twice = [...byFcnt.entries()].filter(([, us]) => us.length > 1).map(([f]) => f);
  check(lost.length === 0, `no accepted uplink lost: missing FCnt ${lost.join(",") || "none"}`);
  check(twice.length === 0, `none stored twice: ${twice.join(",") || "none"}`);
  for (const f of [KILL_AFTER - 1, KILL_AFTER]) {
    const u = byFcnt.get(f)?.[0];
    const euis = (u?.rx_info ?? []).map((r) => r.gateway_eui).sort();
    check(u && accepted.get(f).every((e) => euis.includes(e)),
          `frame ${f} (A's) stored with every acknowledged reception: ${euis.join(" ")}`);
  }
  const recovered = (await b.metric("lorageo_cluster_recovered_total")) + (await c.metric("lorageo_cluster_recovered_total"));
  // frame 16 for sure; 15 too unless A closed its window before it died
  check(recovered >= 1 && recovered <= 2, `the survivors picked up A's open frames: ${recovered}`);
  check(/picked up a frame of a silent instance/.test(b.log + c.log), "and said so");
  // by then the device's counter had moved past them: kept all the same, as never stored
  check(/FCnt 1[56] kept, received by a silent instance/.test(b.log + c.log),
        "kept although the device's counter had moved past them");
} catch (e) {
  check(false, `exception: ${e.stack}`);
}
for (const i of instances) await i.stop();
await redis.stop();
await sleep(300);
for (const g of gateways) g.sock.close();
if (tally.failures) for (const [k, i] of instances.entries()) console.error(`instance ${k}:\n${i.log}`);
console.log(`cluster_failover: ${tally.checks} checks, ${tally.failures} failed`);
process.exit(tally.failures ? 1 : 0);
