import { readFileSync, readdirSync } from "node:fs";
const dir = process.argv[2];
const file = readdirSync(dir).map(f => dir + "/" + f).sort((a,b)=>readFileSync(b).length-readFileSync(a).length)[0];
const p = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(p.nodes.map(n => [n.id, n]));
const self = new Map();
const dt = p.timeDeltas; const total = dt.reduce((a,b)=>a+b,0);
const counts = new Map();
p.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
for (const [id, t] of counts) { const n = byId.get(id); const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + t); }
// inclusive
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, t] of counts) { const seen = new Set(); let cur = id; while (cur !== undefined) { const n = byId.get(cur); const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber}`; if (!seen.has(k)) { incl.set(k, (incl.get(k) ?? 0) + t); seen.add(k); } cur = parent.get(cur); } }
console.log("total ms", (total/1000).toFixed(0));
console.log("--- self"); for (const [k, t] of [...self].sort((a,b)=>b[1]-a[1]).slice(0, 25)) console.log((t/total*100).toFixed(1).padStart(5) + "% " + k);
console.log("--- inclusive"); for (const [k, t] of [...incl].sort((a,b)=>b[1]-a[1]).slice(0, 40)) console.log((t/total*100).toFixed(1).padStart(5) + "% " + k);
