import { fork } from "node:child_process";
import v8 from "node:v8";
import { readFileSync, rmSync } from "node:fs";
import { listenClient } from "../src/server/client-listener.ts";
import { hubApp } from "../test/unit/api/watch-helpers.ts";

function agg(file: string) {
  const s = JSON.parse(readFileSync(file, "utf8"));
  rmSync(file);
  const f = s.snapshot.meta.node_fields; const nf = f.length;
  const ti = f.indexOf("type"), ni = f.indexOf("name"), si = f.indexOf("self_size");
  const types = s.snapshot.meta.node_types[0];
  const m = new Map<string, { n: number; b: number }>();
  for (let i = 0; i < s.nodes.length; i += nf) {
    const t = types[s.nodes[i + ti]]; let name = s.strings[s.nodes[i + ni]];
    if (t === "string" || t === "concatenated string" || t === "sliced string") name = "(string)";
    const k = `${t}:${name}`.slice(0, 80);
    const e = m.get(k) ?? { n: 0, b: 0 }; e.n++; e.b += s.nodes[i + si]; m.set(k, e);
  }
  return m;
}
const h = hubApp();
const l = await listenClient(h.app, "http://127.0.0.1:0");
const gc = (globalThis as any).gc as () => void;
const n = 2000;
gc(); const a = agg(v8.writeHeapSnapshot());
const c = fork(new URL("./heap.ts", import.meta.url).pathname, ["child", String(l.port), String(n)], { execArgv: ["--import", "tsx"] });
await new Promise((res) => c.once("message", res));
await new Promise((r) => setTimeout(r, 500));
gc(); const b = agg(v8.writeHeapSnapshot());
const rows = [...b].map(([k, v]) => ({ k, dn: v.n - (a.get(k)?.n ?? 0), db: v.b - (a.get(k)?.b ?? 0) })).sort((x, y) => y.db - x.db).slice(0, 30);
for (const r of rows) console.log(`${(r.db / n).toFixed(0).padStart(6)} B/w  ${(r.dn / n).toFixed(2).padStart(6)} obj/w  ${r.k}`);
c.kill(); await l.close(); process.exit(0);
