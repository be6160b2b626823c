import { fork } from "node:child_process";
import http from "node:http";
import { listenClient } from "../src/server/client-listener.ts";
import { hubApp } from "../test/unit/api/watch-helpers.ts";

if (process.argv[2] === "child") {
  const port = Number(process.argv[3]); const n = Number(process.argv[4]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let ok = 0;
  const one = () => new Promise<void>((res) => { http.get({ host: "127.0.0.1", port, path: "/v1/watch?key=cfg/&prefix=true", agent }, (r) => { r.once("data", () => { ok++; res(); }); r.resume(); }); });
  (async () => { for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, one)); process.send!({ ok }); })();
} else {
  const h = hubApp();
  const l = await listenClient(h.app, "http://127.0.0.1:0");
  const gc = (globalThis as any).gc as () => void;
  const mem = () => { gc(); gc(); const m = process.memoryUsage(); return m; };
  const n = 3000;
  const m0 = mem();
  const c = fork(import.meta.filename, ["child", String(l.port), String(n)], { execArgv: ["--import", "tsx"] });
  await new Promise((res) => c.once("message", res));
  await new Promise((r) => setTimeout(r, 1000));
  const m1 = mem();
  console.log(`watchers ${h.hub.watcherCount}; heapUsed/watcher ${((m1.heapUsed - m0.heapUsed) / n / 1024).toFixed(2)} KiB; external+arrayBuffers/watcher ${(((m1.external - m0.external)) / n / 1024).toFixed(2)} KiB; rss/watcher ${((m1.rss - m0.rss) / n / 1024).toFixed(2)} KiB`);
  c.kill(); await l.close(); process.exit(0);
}
