// The web UI with many devices (issue 7: responsive with 10,000). Serves a database filled
// by web_fill, then measures GET /api/map on the server and, in headless Chromium, the first
// full draw and a redraw of every device's marker, accuracy circle and track.
//   ./build/bench/web_fill /tmp/web-bench.db 10000 20
//   node bench/web_bench.mjs build/lorageo /tmp/web-bench.db
import { spawn } from "node:child_process";
const { chromium } = await import(new URL("../tests/crosscheck/node_modules/playwright-core/index.mjs", import.meta.url));

const [bin, db] = process.argv.slice(2);
const port = 30000 + Math.floor(Math.random() * 20000);
const base = `http://127.0.0.1:${port}`;
const server = spawn(bin, ["serve"], { stdio: "ignore", env: { ...process.env, LORAGEO_SERVER_DATABASE: db,
  LORAGEO_SERVER_UDP_BIND: `127.0.0.1:${port + 1}`, LORAGEO_SERVER_HTTP_BIND: `127.0.0.1:${port}` } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < 100; i++) {
  try { if ((await fetch(`${base}/api/health`)).ok) break; } catch {}
  await sleep(50);
}
const times = [];
let bytes = 0, devices = 0;
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  const text = await (await fetch(`${base}/api/map`)).text();
  times.push(performance.now() - t);
  bytes = text.length;
  devices = JSON.parse(text).devices.length;
}
times.sort((a, b) => a - b);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
let t = performance.now();
await page.goto(base + "/");
await page.waitForFunction((n) => window.lorageo.devices.size === n, devices, { timeout: 120000, polling: 100 });
const firstDraw = performance.now() - t;
const redraw = await page.evaluate(async () => {
  const timed = async (url) => {
    const t0 = performance.now();
    const data = await (await fetch(url)).json();
    const t1 = performance.now();
    window.lorageo.draw(data);
    await new Promise((r) => requestAnimationFrame(() => r()));
    return { fetch_ms: t1 - t0, draw_ms: performance.now() - t1, last_id: data.last_id };
  };
  const all = await timed("/api/map");
  const one = await timed(`/api/map?since=${all.last_id - 1}`); /* one device moved */
  return { all, one };
});
// responsiveness: how long a click on the map waits while nothing is loading
const click = await page.evaluate(() => new Promise((res) => {
  const t0 = performance.now();
  setTimeout(() => res(performance.now() - t0), 0);
}));
await browser.close();
server.kill("SIGTERM");
console.log(JSON.stringify({ devices, map_json_bytes: bytes, api_map_ms_median: +times[2].toFixed(1),
  first_full_draw_ms: +firstDraw.toFixed(0), redraw_all_fetch_ms: +redraw.all.fetch_ms.toFixed(0),
  redraw_all_draw_ms: +redraw.all.draw_ms.toFixed(0), update_one_fetch_ms: +redraw.one.fetch_ms.toFixed(1),
  update_one_draw_ms: +redraw.one.draw_ms.toFixed(1), idle_task_latency_ms: +click.toFixed(1) }));
