// Two `lorageo serve` instances sharing one PostgreSQL database (issue 8, its first part:
// the storage). Frames built by lora-packet reach the instances over the Semtech UDP
// protocol, as gateways attached to different instances would send them:
//   - what one instance stores, the other's API serves;
//   - a counter one instance accepted is a replay at the other (the frame counters live in
//     the database, updated by a compare-and-set in SQL);
//   - one frame arriving at both at once is stored once: the instance that loses the
//     compare-and-set refuses it ("taken concurrently", or a retransmission if the other
//     had committed first), so no counter is accepted twice;
//   - every connection to the database dropped by the server (an administrator, a
//     restart): both instances reconnect and go on storing. (Gathering both instances'
//     receptions into that one uplink is the shared de-duplication, not built yet.)
// Needs LORAGEO_TEST_PG (scripts/test.sh sets it); usage: node pg_instances.mjs LORAGEO
import { execFileSync } from "node:child_process";
import {
  ABP, armTimeout, check, database, dataUp, gateways, instance, rxpkFor, sleep, tally,
} from "./harness.mjs";

if (!process.env.LORAGEO_TEST_PG) {
  console.log("pg_instances: skipped (LORAGEO_TEST_PG not set)");
  process.exit(0);
}
armTimeout(60000);

const instances = [instance(0), instance(1)];
let emit = BigInt(Date.now()) * 1000000n;
async function frame(phy, route) { // route[i]: the instance gateway i sends to
  emit += 10000000000n;
  for (let i = 0; i < gateways.length; i++) await route[i].push(gateways[i], rxpkFor(gateways[i], phy, emit));
}
const uplinks = async (inst) =>
  (await inst.api("GET", `/api/devices/${ABP.dev_eui}/uplinks?limit=20`)).json.items.map((u) => u.f_cnt).sort((a, b) => a - b);

try {
  const [a, b] = instances;
  a.start();
  await a.healthy();
  b.start(); // the second one finds the schema migrated (an advisory lock orders them)
  await b.healthy();
  for (const g of gateways)
    check((await a.api("POST", "/api/gateways", { gateway_eui: g.eui, latitude: g.lat, longitude: g.lon, altitude: g.alt })).status === 201, `gateway ${g.eui} added`);
  check((await a.api("POST", "/api/devices", ABP)).status === 201, "device added through instance A");
  check((await b.api("GET", `/api/devices/${ABP.dev_eui}`)).status === 200, "instance B sees it");

  await frame(dataUp(1, "via A"), [a, a, a, a]);
  await sleep(500);
  await frame(dataUp(2, "via B"), [b, b, b, b]);
  await sleep(500);
  check(JSON.stringify(await uplinks(a)) === "[1,2]" && JSON.stringify(await uplinks(b)) === "[1,2]",
        `both instances serve both uplinks: A ${await uplinks(a)}, B ${await uplinks(b)}`);

  // FCnt 1 again, at B, which never saw it: a replay all the same
  await frame(dataUp(1, "via A"), [b, b, b, b]);
  await sleep(500);
  check(await b.metric('lorageo_rx_dropped_total{reason="replay"}') === 1, "the replay refused by the other instance");

  // one frame, half its gateways on each instance, at the same moment: stored once
  await frame(dataUp(3, "both"), [a, b, a, b]);
  await sleep(1000);
  const ups = await uplinks(a);
  check(JSON.stringify(ups) === "[1,2,3]", `FCnt 3 stored once: ${ups}`);
  const accepted = (await a.metric("lorageo_uplinks_total")) + (await b.metric("lorageo_uplinks_total"));
  check(accepted === 3, `3 uplinks accepted across the two instances, got ${accepted}`);
  // the other instance refused its copy: as taken concurrently (it lost the SQL
  // compare-and-set) or, if the winner had already committed, as a retransmission
  let refused = -1; /* the replay of FCnt 1 above */
  for (const i of [a, b])
    refused += (await i.metric('lorageo_rx_dropped_total{reason="replay"}')) +
               (await i.metric("lorageo_retransmissions_total"));
  check(refused === 1, `the instance that lost FCnt 3 refused it (${refused} refusals)`);

  // PostgreSQL drops every connection to the database; both instances carry on
  const db = database.slice(database.lastIndexOf("/") + 1);
  execFileSync("psql", [`${process.env.LORAGEO_TEST_PG.replace(/\/$/, "")}/postgres`, "-qAtc",
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}'`]);
  /* what was in flight at each may fail (and is logged); what follows is stored */
  for (const [f, inst] of [[4, a], [5, b], [6, a], [7, b], [8, a], [9, b]]) {
    await frame(dataUp(f, "after the drop"), [inst, inst, inst, inst]);
    await sleep(500);
  }
  const after = await uplinks(b);
  check(after.includes(8) && after.includes(9), `stored again after the connections dropped: ${after}`);
  check((await a.api("GET", `/api/devices/${ABP.dev_eui}`)).status === 200, "instance A's API reconnected too");
} catch (e) {
  check(false, `exception: ${e.stack}\nA:\n${instances[0].log}\nB:\n${instances[1].log}`);
}
for (const i of instances) await i.stop();
await sleep(300);
for (const g of gateways) g.sock.close();
console.log(`pg_instances: ${tally.checks} checks, ${tally.failures} failed`);
process.exit(tally.failures ? 1 : 0);
