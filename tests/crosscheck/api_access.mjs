// The API's access rules (issue 16 item 4), through the real server: [api] token reads and
// writes, [api] read_token only reads (GET; POST/DELETE answer 403 with {"error"}), no or a
// wrong token is 401; with [api] tls_cert_file/tls_key_file the port speaks HTTPS only (a
// certificate made by the openssl CLI here): https answers, plain http on it gets no answer.
// Usage: node api_access.mjs path/to/lorageo
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import {
  armTimeout, base, check, dir, httpPort, server, sleep, start, stop, tally, waitHealthy,
} from "./harness.mjs";

armTimeout(60000);
const call = async (method, url, token, body) => {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(base + url, { method, headers, body: body && JSON.stringify(body) });
  const text = await r.text();
  let j = null;
  try { j = JSON.parse(text); } catch {}
  return { status: r.status, json: j };
};
const gw = { gateway_eui: "aa555a00000000f1", latitude: 55.8, longitude: 12.45 };
try {
  start({ LORAGEO_API_TOKEN: "rw-secret", LORAGEO_API_READ_TOKEN: "ro-secret" });
  await waitHealthy();
  check((await call("POST", "/api/gateways", "rw-secret", gw)).status === 201, "the read-write token writes");
  let r = await call("GET", "/api/gateways", "ro-secret");
  check(r.status === 200 && r.json.items.length === 1, `the read-only token reads (${r.status})`);
  r = await call("GET", `/api/gateways/${gw.gateway_eui}`, "ro-secret");
  check(r.status === 200 && r.json.gateway_eui === gw.gateway_eui, "the read-only token reads one gateway");
  r = await call("POST", "/api/gateways", "ro-secret", { ...gw, gateway_eui: "aa555a00000000f2" });
  check(r.status === 403 && typeof r.json?.error === "string", `POST with the read-only token: 403 {"error"} (${r.status})`);
  r = await call("DELETE", `/api/gateways/${gw.gateway_eui}`, "ro-secret");
  check(r.status === 403 && typeof r.json?.error === "string", `DELETE with the read-only token: 403 (${r.status})`);
  r = await call("POST", "/api/devices/0102030405060708/queue", "ro-secret", { f_port: 1, data: "AQ==" });
  check(r.status === 403, `queueing with the read-only token: 403 (${r.status})`);
  check((await call("GET", "/api/gateways", "rw-secret")).json.items.length === 1, "nothing written by the read-only token");
  check((await call("GET", "/api/gateways")).status === 401, "no token: 401");
  check((await call("GET", "/api/gateways", "ro-secretX")).status === 401, "a wrong token: 401");
  check((await call("GET", "/api/gateways", "ro-secre")).status === 401, "a prefix of a token: 401");
  const stream = new AbortController();
  const s = await fetch(`${base}/api/stream`, { headers: { Authorization: "Bearer ro-secret" }, signal: stream.signal });
  check(s.status === 200, `the read-only token opens the live stream (${s.status})`);
  stream.abort();
  await stop();

  // HTTPS: a self-signed certificate for 127.0.0.1 made at test time
  const cert = path.join(dir, "api-cert.pem"), key = path.join(dir, "api-key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  start({ LORAGEO_API_TLS_CERT_FILE: cert, LORAGEO_API_TLS_KEY_FILE: key });
  const ca = fs.readFileSync(cert);
  const httpsGet = (url) => new Promise((resolve, reject) => {
    const q = https.get(`https://127.0.0.1:${httpPort}${url}`, { ca }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    q.on("error", reject);
  });
  let health = null;
  for (let i = 0; i < 100 && !health; i++) {
    health = await httpsGet("/api/health").catch(() => null);
    if (!health) await sleep(50);
  }
  check(health?.status === 200 && JSON.parse(health.body).status === "ok",
    `https://127.0.0.1:${httpPort}/api/health answers, the certificate verified (${health?.status})\n${server.log}`);
  const plain = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(3000) })
    .then((x) => `HTTP ${x.status}`).catch((e) => `refused (${e.cause?.code ?? e.name})`);
  check(plain.startsWith("refused"), `plain http on the TLS port gets no HTTP answer (${plain})`);
  const untrusted = await new Promise((resolve) => {
    https.get(`https://127.0.0.1:${httpPort}/api/health`, (res) => resolve(`HTTP ${res.statusCode}`))
      .on("error", (e) => resolve(e.code));
  });
  check(untrusted !== "HTTP 200", `a client that does not trust the certificate is stopped (${untrusted})`);
  await stop();
} catch (e) {
  check(false, `exception: ${e.stack}\n${server?.log}`);
}
console.log(`${tally.checks - tally.failures}/${tally.checks} checks passed`);
process.exit(tally.failures ? 1 : 0);
