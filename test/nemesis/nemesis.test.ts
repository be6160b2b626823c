/**
 * Real processes under faults (issue 3, section 5): five `cairn serve` processes on loopback, eight
 * concurrent clients through the /v1 API (puts, linearizable gets, deletes, compare-and-swap), and
 * a nemesis that goes once through every fault kind, in a seeded order: kill -9,
 * SIGSTOP/SIGCONT, a symmetric partition, both asymmetric ones, a two-against-three split
 * (transport failpoints), and removing a member then adding a new one as a learner and promoting
 * it, all under load (run.ts), with snapshots taken every 300 entries so that catching up by
 * snapshot is exercised too. The history must be linearizable and every acknowledged write present
 * on every member at the end.
 *
 * About a minute of wall time. The schedule's seed is printed; NEMESIS_SEED=<n> replays a schedule
 * (the timing of real processes varies, so a replay is close, not exact). The longer version is
 * `node --import tsx bench/nemesis.ts --duration-s 600`.
 */
import { expect, it } from "vitest";
import { formatDebug, formatReport, runNemesis } from "./run.ts";

const seed = process.env.NEMESIS_SEED ? Number(process.env.NEMESIS_SEED) : Date.now() % 1_000_000;

it(`keeps every history linearizable and every acknowledged write under kill -9, pauses, partitions and membership changes (seed ${seed})`, async () => {
  const log: string[] = [];
  const report = await runNemesis({
    seed,
    // One full cycle through every fault kind (about 30 s here); no fault starts after 60 s. A
    // second cycle would remove and add a member again, which can hit the known bug of a new
    // learner behind a leader that was itself added at runtime (see the bench's reports).
    durationMs: 60_000,
    maxCycles: 1,
    // Snapshots every few seconds under this load, and a short log after each: members restarted
    // after a kill, and the new member, catch up by snapshot as well as by appends.
    extraFlags: ["--snapshot-count=300", "--snapshot-catchup-entries=50"],
    onLog: (line) => log.push(line),
  }).catch((err: unknown) => {
    throw new Error(`nemesis run of seed ${seed} could not run: ${String(err)}\n${log.join("\n")}`);
  });
  const text = formatReport(report);
  console.log(text);
  if (!report.passed) {
    throw new Error(`nemesis run failed (replay: NEMESIS_SEED=${seed})\n${text}\n${formatDebug(report)}`);
  }
  expect(report.check.ok).toBe(true);
  expect(report.operationsChecked).toBeGreaterThan(100);
  expect(Object.values(report.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
}, 180_000);
