/**
 * Replays one seed of the KV simulation: SIM_SEED=<n> npx vitest run test/sim/kv/replay.test.ts
 *
 * Runs exactly the events of that seed (same config, faults and schedule), keeps the whole trace,
 * writes it to <tmpdir>/cairn-sim-kv-<seed>.trace and prints its last lines (SIM_TRACE=all prints
 * all of it), with the run's summary or its failure.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { describeConfig } from "./config.ts";
import { runSeed, SimFailure } from "./run.ts";
import { replaySeed } from "./seeds.ts";

const TAIL_LINES = 200;

function printTrace(seed: number, trace: string): void {
  const path = join(tmpdir(), `cairn-sim-kv-${seed}.trace`);
  writeFileSync(path, `${trace}\n`);
  const lines = trace.split("\n");
  const shown = process.env.SIM_TRACE === "all" ? lines : lines.slice(-TAIL_LINES);
  console.log(
    `trace of seed ${seed}: ${lines.length} events, written to ${path}; ${shown.length} shown:\n${shown.join("\n")}`,
  );
}

const seed = replaySeed();

describe("KV simulation replay (SIM_SEED)", () => {
  it.skipIf(seed !== undefined)("skipped: set SIM_SEED=<n> to replay a seed", () => {});
  it.runIf(seed !== undefined)(
    `seed ${seed}`,
    () => {
      const s = seed!;
      try {
        const r = runSeed(s, { keepTrace: true });
        printTrace(s, r.trace ?? "");
        console.log(
          `seed ${s} passed: ${describeConfig(r.config)}\ntrace digest ${r.traceDigest}, ${r.events} events, ` +
            `${r.simMs} ms simulated, ${r.ops} ops (${r.ackedWrites} acked writes), final index ${r.finalIndex}, ` +
            `faults: ${JSON.stringify(r.nemesis)}\n` +
            `counts: ${JSON.stringify(r.counts)}`,
        );
      } catch (err) {
        if (err instanceof SimFailure && err.trace !== undefined) printTrace(s, err.trace);
        throw err;
      }
    },
    600_000,
  );
});
