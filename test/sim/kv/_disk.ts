import { SimDisk } from "./disk.ts";
// Dump segments of n2's disk at each crash/open for seed 162.
const origCrash = SimDisk.prototype.crash;
const origOpen = SimDisk.prototype.open;
const origCompact = SimDisk.prototype.compact;
const dump = (d: any, tag: string) => console.log(tag, JSON.stringify(d.segments.map((s: any) => ({ seq: s.seq, len: s.len, durable: s.durable, max: s.maxEntryIndex }))), "snap", d.snapshot?.metadata.index, "hs", JSON.stringify(d.hardState));
SimDisk.prototype.crash = function (this: any, ...a: any[]) { dump(this, `${(globalThis as any).T} crash-before`); const r = origCrash.apply(this, a as any); dump(this, "crash-after"); return r; };
SimDisk.prototype.open = function (this: any) { dump(this, "open-before"); const r = origOpen.apply(this); console.log("open ->", JSON.stringify(r.hardState), "entries", r.entries.length, r.entries[0]?.index, "snap", r.snapshot?.metadata.index); return r; };
SimDisk.prototype.compact = function (this: any, i: number) { dump(this, `compact(${i})-before`); origCompact.call(this, i); dump(this, "compact-after"); };
const { runSeed } = await import("./run.ts");
try { runSeed(Number(process.argv[2])); } catch (e) { console.log((e as Error).message.split("\n")[0]); }
