import { it } from "vitest";
import { SimClient } from "./client.ts";
import { Cluster } from "./cluster.ts";
import { Rng } from "./rng.ts";
it("exp", () => {
  let fails = 0; const msgs: string[] = [];
  const mab = Number(process.env.MAB ?? "1");
  for (let seed = 1; seed <= Number(process.env.N ?? "100"); seed++) {
    for (const size of [3, 5]) {
      try {
        const c = new Cluster({ size, seed, faults: { dropProbability: Number(process.env.DROP ?? "0.1"), duplicateProbability: 0.02, minDelayMs: 1, maxDelayMs: Number(process.env.DELAY ?? "30") }, maxDiskDelayMs: Number(process.env.DISK ?? "8"), raft: { maxInflightAppends: 4, maxAppendBytes: mab }, snapshotEvery: 10 });
        const rng = new Rng(seed + 4_000_000);
        const client = new SimClient(c, rng.fork(), "v");
        let chaos = true;
        c.every(10, () => { if (chaos) client.submit(); client.pump(); });
        c.every(Number(process.env.FAULTMS ?? "100"), () => {
          if (!chaos) return;
          const r = rng.float(); const up = c.upIds(); const down = c.voters.filter((id) => !up.includes(id)); const lead = c.leader();
          if (r < 0.1 && up.length > 0) c.crash(rng.pick(up));
          else if (r < 0.3 && lead) c.crash(lead);
          else if (r < 0.55 && down.length > 0) c.restart(rng.pick(down));
          else if (r < 0.65) { const sh = [...c.voters].sort(() => rng.float() - 0.5); const cut = rng.int(1, size - 1); c.partition([sh.slice(0, cut), sh.slice(cut)]); }
          else if (r < 0.8) c.heal();
        });
        c.runFor(4000); chaos = false; c.heal(); for (const id of c.voters) c.restart(id);
        c.runUntil(() => client.done() && c.converged(), 30000);
      } catch (e) { fails++; if (msgs.length < 3) msgs.push(`${size}/${seed}: ${(e as Error).message.slice(0, 150)}`); }
    }
  }
  console.log("FAILS", fails, msgs);
});
