// Member-side fan-out cost: N SSE watchers from child processes (counting bytes only), then R revisions.
import { fork } from "node:child_process";
import http from "node:http";
import { listenClient } from "../src/server/client-listener.ts";
import { hubApp } from "../test/unit/api/watch-helpers.ts";

if (process.argv[2] === "child") {
  const port = Number(process.argv[3]); const n = Number(process.argv[4]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let bytes = 0;
  const one = () => new Promise<void>((res) => { http.get({ host: "127.0.0.1", port, path: "/v1/watch?key=cfg/&prefix=true", agent }, (r) => { r.once("data", () => res()); r.on("data", (c: Buffer) => { bytes += c.length; }); }); });
  (async () => { for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: Math.min(100, n - i) }, one)); process.send!({ opened: true }); })();
  process.on("message", () => process.send!({ bytes }));
} else {
  const N = Number(process.argv[2] ?? 10000), R = Number(process.argv[3] ?? 50), P = 4;
  const h = hubApp();
  const l = await listenClient(h.app, "http://127.0.0.1:0");
  const kids = Array.from({ length: P }, () => fork(import.meta.filename, ["child", String(l.port), String(N / P)], { execArgv: ["--import", "tsx"] }));
  await Promise.all(kids.map((c) => new Promise((res) => c.once("message", res))));
  await new Promise((r) => setTimeout(r, 500));
  const value = "x".repeat(200);
  const cpu0 = process.cpuUsage(); const t0 = performance.now();
  let lag = 0;
  for (let i = 0; i < R; i++) {
    const s = performance.now();
    h.put("cfg/lat", `${value}${i}`);
    await new Promise((r) => setImmediate(r));  // the flush runs in this immediate batch
    await new Promise((r) => setImmediate(r));
    lag = Math.max(lag, performance.now() - s);
    await new Promise((r) => setTimeout(r, 20));
  }
  const cpu = process.cpuUsage(cpu0); const el = performance.now() - t0;
  console.log(`N=${N} R=${R}: member CPU ${((cpu.user + cpu.system) / 1000 / R).toFixed(1)} ms/revision (${((cpu.user + cpu.system) / R / N).toFixed(2)} µs/watcher; user ${(cpu.user/1000/R).toFixed(1)} sys ${(cpu.system/1000/R).toFixed(1)}), max flush ${lag.toFixed(1)} ms, elapsed ${el.toFixed(0)} ms`);
  for (const c of kids) c.kill();
  await l.close(); process.exit(0);
}
