/**
 * Deterministic cluster simulation of the Raft core (3 and 5 members, many seeds). Safety
 * invariants (one leader per term, committed entries never change, applied sequences are
 * prefixes of each other, leader completeness) are checked after every simulated event; these
 * tests add liveness expectations per scenario. A failure names its seed: SIM_SEED=<n> replays it.
 */
import { describe, expect, it } from "vitest";
import { SimClient } from "./client.ts";
import { Cluster, type ClusterOptions } from "./cluster.ts";
import { forEachSeed, Rng } from "./rng.ts";

/** Seeds per scenario (SIM_SEEDS overrides). */
const SEEDS = 50;

function fail(c: Cluster, msg: string): never {
  throw new Error(`${msg}\n${c.describe()}`);
}

/** Runs until converged and the client's values are all applied; fails with the cluster state otherwise. */
function settle(c: Cluster, clients: SimClient[], maxMs: number): void {
  const ok = c.runUntil(() => clients.every((cl) => cl.done()) && c.converged(), maxMs);
  if (!ok) fail(c, "cluster did not converge");
  c.checkPrefixes();
}

/** Every value every client submitted is applied on every member. */
function expectAllApplied(c: Cluster, clients: SimClient[]): void {
  for (const id of c.voters) {
    const applied = new Set(c.appliedValues(id));
    for (const cl of clients) {
      const missing = cl.submitted.filter((v) => !applied.has(v));
      if (missing.length > 0) fail(c, `${id} misses ${missing.length} values, e.g. ${missing[0]}`);
    }
  }
}

/** Every member applied exactly the same sequence. */
function expectIdenticalApplied(c: Cluster): void {
  const [first, ...rest] = c.voters.map((id) => c.node(id).applied);
  for (const seq of rest) {
    if (seq.length !== first!.length) fail(c, "applied sequences differ in length");
  }
  c.checkPrefixes();
}

for (const size of [3, 5]) {
  describe(`simulation: ${size} members`, () => {
    it("elects exactly one leader, known to all, and keeps it without faults", () => {
      forEachSeed(SEEDS, (seed) => {
        const c = new Cluster({ size, seed });
        if (!c.runUntil(() => c.converged(), 5_000)) fail(c, "no leader elected");
        const lead = c.leader();
        const term = c.node(lead!).core!.status().term;
        c.runFor(2_000);
        expect(c.leaders(), c.describe()).toEqual([lead]);
        expect(c.node(lead!).core!.status().term).toBe(term);
        for (const id of c.voters) expect(c.node(id).core!.status().leader).toBe(lead);
      });
    });

    it("replicates proposals to all members despite loss, duplication and reordering", () => {
      forEachSeed(SEEDS, (seed) => {
        const c = new Cluster({
          size,
          seed,
          faults: { dropProbability: 0.05, duplicateProbability: 0.02, maxDelayMs: 12 },
        });
        const client = new SimClient(c, new Rng(seed + 1_000_000), "v");
        const readRng = new Rng(seed + 5_000_000);
        c.every(15, () => {
          if (client.submitted.length < 80) client.submit();
          client.pump();
          c.readIndex(readRng.pick(c.upIds()));
        });
        c.runFor(1_500);
        settle(c, [client], 20_000);
        // Linearizable reads were answered (each checked against every commit before it was issued).
        expect(c.checker.readsAnswered).toBeGreaterThan(20);
        expectAllApplied(c, [client]);
        expectIdenticalApplied(c);
      });
    });

    it("survives a leader crash: a new leader is elected and no committed entry is lost", () => {
      forEachSeed(SEEDS, (seed) => {
        const c = new Cluster({ size, seed, faults: { dropProbability: 0.02 } });
        const rng = new Rng(seed + 2_000_000);
        const client = new SimClient(c, rng.fork(), "v");
        let submitting = true;
        c.every(10, () => {
          if (submitting) client.submit();
          client.pump();
        });
        if (!c.runUntil(() => c.hasLeader(), 5_000)) fail(c, "no leader");
        c.runFor(rng.int(100, 600));
        const old = c.leader()!;
        const oldTerm = c.node(old).core!.status().term;
        const committedBefore = c.checker.maxCommittedIndex();
        c.crash(old);
        const elected = c.runUntil(() => {
          const l = c.leader();
          return l !== undefined && l !== old;
        }, 5_000);
        if (!elected) fail(c, "no new leader after the crash");
        const lead = c.leader()!;
        expect(c.node(lead).core!.status().term).toBeGreaterThan(oldTerm);
        c.runFor(rng.int(100, 800));
        c.restart(old);
        c.runFor(300);
        submitting = false;
        settle(c, [client], 20_000);
        expect(c.checker.maxCommittedIndex()).toBeGreaterThan(committedBefore);
        expectAllApplied(c, [client]);
        expectIdenticalApplied(c);
      });
    });

    it("survives a partition: the minority cannot commit, the majority can, and they converge after healing", () => {
      forEachSeed(SEEDS, (seed) => {
        const c = new Cluster({ size, seed, faults: { dropProbability: 0.01 } });
        const rng = new Rng(seed + 3_000_000);
        if (!c.runUntil(() => c.converged(), 5_000)) fail(c, "no leader");
        const old = c.leader()!;
        const others = c.voters.filter((id) => id !== old);
        const minority = size === 3 ? [old] : [old, rng.pick(others)];
        const majority = c.voters.filter((id) => !minority.includes(id));
        c.partition([minority, majority]);
        const commitAtSplit = new Map(minority.map((id) => [id, c.node(id).core!.status().commit]));

        const majorityClient = new SimClient(c, rng.fork(), "maj", majority);
        const minorityValues: string[] = [];
        let n = 0;
        const readsBefore = c.checker.readsAnswered;
        let split = true;
        c.every(20, () => {
          // Reads on the minority must not be answered: it cannot confirm leadership with a quorum.
          if (split) for (const id of minority) c.readIndex(id);
          // The old leader still believes it leads (no CheckQuorum): it accepts proposals it can never commit.
          if (n < 30) {
            const v = `min-${n++}`;
            if (c.propose(old, v)) minorityValues.push(v);
          }
          if (majorityClient.submitted.length < 30) majorityClient.submit();
          majorityClient.pump();
        });
        c.runFor(1_500);
        expect(c.checker.readsAnswered).toBe(readsBefore);
        expect(minorityValues.length).toBeGreaterThan(0);
        for (const v of minorityValues) expect(c.checker.appliedValues.has(v), v).toBe(false);
        for (const id of minority) expect(c.node(id).core!.status().commit).toBe(commitAtSplit.get(id));
        const lead = c.leader();
        if (!lead || !majority.includes(lead)) fail(c, "majority has no leader");
        const ok = c.runUntil(() => majorityClient.done(), 10_000);
        if (!ok) fail(c, "majority did not commit");

        split = false;
        c.heal();
        settle(c, [majorityClient], 20_000);
        expectAllApplied(c, [majorityClient]);
        expectIdenticalApplied(c);
        // The minority's uncommitted entries were overwritten, never applied.
        for (const v of minorityValues) expect(c.checker.appliedValues.has(v), v).toBe(false);
      });
    });

    const chaosVariants: ChaosVariant[] = [
      { name: "preVote=false, checkQuorum=false", preVote: false, checkQuorum: false },
      { name: "preVote=true, checkQuorum=true", preVote: true, checkQuorum: true },
      {
        name: "one entry per MsgApp, frequent leader crashes, 10% loss",
        preVote: false,
        checkQuorum: false,
        maxAppendBytes: 1,
        dropProbability: 0.1,
        maxDelayMs: 30,
        faultEveryMs: 30,
        submitEveryMs: 20,
        retryMs: 1_000,
      },
    ];
    for (const v of chaosVariants) {
      it(`stays safe under random crashes, restarts, partitions and loss (${v.name})`, () => {
        forEachSeed(SEEDS, (seed) => runChaos(size, seed, v));
      });
    }
  });
}

/** Settings of a random-fault run. */
interface ChaosVariant {
  name: string;
  preVote: boolean;
  checkQuorum: boolean;
  maxAppendBytes?: number;
  dropProbability?: number;
  maxDelayMs?: number;
  /** A random fault (crash, leader crash, restart, partition, heal) may happen this often. */
  faultEveryMs?: number;
  submitEveryMs?: number;
  retryMs?: number;
}

/**
 * 4 s of random faults with a client writing and reading all along, then every member is
 * restarted and reconnected: the cluster must converge with every submitted value applied
 * everywhere. Safety invariants are checked throughout.
 */
function runChaos(size: number, seed: number, v: ChaosVariant): void {
  const opts: ClusterOptions = {
    size,
    seed,
    faults: {
      dropProbability: v.dropProbability ?? 0.05,
      duplicateProbability: 0.02,
      minDelayMs: 1,
      maxDelayMs: v.maxDelayMs ?? 20,
    },
    maxDiskDelayMs: 5,
    raft: {
      preVote: v.preVote,
      checkQuorum: v.checkQuorum,
      maxInflightAppends: 4,
      maxAppendBytes: v.maxAppendBytes ?? 256,
    },
    snapshotEvery: 10,
  };
  const c = new Cluster(opts);
  const rng = new Rng(seed + 4_000_000);
  const client = new SimClient(c, rng.fork(), "v", undefined, v.retryMs ?? 150);
  let chaos = true;
  c.every(v.submitEveryMs ?? 10, () => {
    if (chaos) client.submit();
    client.pump();
  });
  c.every(v.faultEveryMs ?? 100, () => {
    if (!chaos) return;
    const r = rng.float();
    const up = c.upIds();
    const down = c.voters.filter((id) => !up.includes(id));
    const lead = c.leader();
    if (r < 0.1 && up.length > 0) c.crash(rng.pick(up));
    else if (r < 0.2 && lead) c.crash(lead);
    else if (r < 0.4 && down.length > 0) c.restart(rng.pick(down));
    else if (r < 0.5) {
      const shuffled = [...c.voters].sort(() => rng.float() - 0.5);
      const cut = rng.int(1, size - 1);
      c.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else if (r < 0.65) c.heal();
  });
  c.every(25, () => {
    const up = c.upIds();
    if (up.length > 0) c.readIndex(rng.pick(up));
  });
  c.runFor(4_000);
  chaos = false;
  c.heal();
  for (const id of c.voters) c.restart(id);
  settle(c, [client], 30_000);
  expectAllApplied(c, [client]);
  expectIdenticalApplied(c);
  expect(c.stats.crashes).toBeGreaterThan(0);
}
