/**
 * A real single-member node (Raft + MVCC, memory storage) whose lease and compaction clock the
 * test drives: `advance(ms)` moves the clock and waits for a few real ticks, so the node's tick
 * handler (lease expiry, auto compaction) sees the new time.
 */
import pino from "pino";
import type { AutoCompaction } from "../../../src/server/compactor.ts";
import { CairnNode } from "../../../src/server/node.ts";
import { MemoryStorage } from "../../../src/storage/memory.ts";

/** Heartbeat of the test node (ms of real time per tick). */
export const TICK_MS = 10;

export interface DrivenNode {
  node: CairnNode;
  /** The node's clock now (ms). */
  now(): number;
  /** Moves the clock by `ms`, then lets the node run a few ticks. */
  advance(ms: number): Promise<void>;
  stop(): Promise<void>;
}

/** Real-time wait. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Starts a one-member node (heartbeat 10 ms, election 100 ms: etcd's minimum lease TTL is then
 * 1 s) and resolves once it leads and its lessor is promoted.
 */
export async function startDrivenNode(opts: { autoCompaction?: AutoCompaction } = {}): Promise<DrivenNode> {
  let clock = 1_000_000;
  const memberId = "8e9e05c52164694d";
  const node = await CairnNode.start({
    memberId,
    clusterId: "cdf818194e3a8c32",
    name: "default",
    initialMembers: [{ id: memberId, name: "default", peerUrls: ["https://127.0.0.1:2380"] }],
    clientUrls: ["http://127.0.0.1:2379"],
    storage: new MemoryStorage(),
    heartbeatIntervalMs: TICK_MS,
    electionTimeoutMs: 100,
    snapshotCount: 1000,
    logger: pino({ level: "silent" }),
    version: "test",
    raftSeed: 1,
    clock: () => clock,
    ...(opts.autoCompaction ? { autoCompaction: opts.autoCompaction } : {}),
  });
  const deadline = Date.now() + 5_000;
  while (!(await node.health()).health) {
    if (Date.now() > deadline) throw new Error("node did not become healthy");
    await sleep(5);
  }
  // The lessor is promoted once the leader's first entry is applied; a keep-alive waits for it.
  return {
    node,
    now: () => clock,
    advance: async (ms: number) => {
      clock += ms;
      await sleep(6 * TICK_MS);
    },
    stop: () => node.stop(),
  };
}
