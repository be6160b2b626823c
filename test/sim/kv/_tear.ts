import { SimDisk } from "./disk.ts";

const orig = SimDisk.prototype.crash;
SimDisk.prototype.crash = function (this: any, rng: any, policy: any) {
  const before = this.segments.map((s: any) => `${s.seq}:${s.durable}/${s.len}`).join(" ");
  const hs = JSON.stringify(this.hardState);
  orig.call(this, rng, policy);
  console.log(
    "crash",
    before,
    "->",
    this.segments.map((s: any) => `${s.seq}:${s.len}`).join(" "),
    "mem hs",
    hs,
    "torn",
    this.stats.tornTails,
    "corrupt",
    this.stats.corruptTails,
  );
};
const origOpen = SimDisk.prototype.open;
SimDisk.prototype.open = function (this: any) {
  const r = origOpen.call(this);
  console.log(
    "open ->",
    JSON.stringify(r.hardState),
    "entries",
    r.entries.map((e: any) => `${e.index}/${e.term}`).join(","),
  );
  return r;
};
const { runSeed } = await import("./run.ts");
try {
  runSeed(Number(process.argv[2]));
} catch (e) {
  console.log((e as Error).message.split("\n")[0]);
}
