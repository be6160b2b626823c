import { runSeed } from "./run.ts";
const from = Number(process.argv[2] ?? 1), n = Number(process.argv[3] ?? 5);
for (let s = from; s < from + n; s++) {
  const t0 = performance.now();
  try {
    const r = runSeed(s);
    console.log(s, (performance.now() - t0).toFixed(0) + "ms", r.config.size, r.config.faults.name, "ops", r.ops, "acked", r.ackedWrites, "idx", r.finalIndex, "ev", r.events, "lc", r.lincheckSteps, JSON.stringify(r.nemesis));
  } catch (e) { console.log(s, "FAIL", (performance.now() - t0).toFixed(0) + "ms", (e as Error).message.slice(0, 3000)); }
}
