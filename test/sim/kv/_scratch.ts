import { runSeed } from "./run.ts";

const from = Number(process.argv[2] ?? 1),
  n = Number(process.argv[3] ?? 5);
let total = 0;
for (let s = from; s < from + n; s++) {
  const t0 = performance.now();
  try {
    const r = runSeed(s);
    const ms = performance.now() - t0;
    total += ms;
    console.log(
      s,
      ms.toFixed(0) + "ms",
      r.config.size,
      r.config.faults.name,
      "ops",
      r.ops,
      "acked",
      r.ackedWrites,
      "idx",
      r.finalIndex,
      "ev",
      r.events,
      "lc",
      r.lincheckSteps,
      "known",
      r.knownIssues.join(";") || "-",
      "k2",
      r.nemesis.k2Avoided,
      "k3",
      r.counts.k3Avoided,
      JSON.stringify(r.nemesis),
    );
  } catch (e) {
    const ms = performance.now() - t0;
    total += ms;
    console.log(s, "FAIL", ms.toFixed(0) + "ms", (e as Error).message.slice(0, 6000));
  }
}
console.log("TOTAL", total.toFixed(0), "ms wall", (process.cpuUsage().user / 1000).toFixed(0), "ms cpu");
