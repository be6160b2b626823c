/**
 * A real single-member Cairn node (Raft + MVCC, memory storage, no peers) for tests of the
 * layers above it (API through app.request()). It elects itself at once.
 */
import pino from "pino";
import { CairnNode } from "../../src/server/node.ts";
import type { KvService } from "../../src/server/service.ts";
import { MemoryStorage } from "../../src/storage/memory.ts";

/** Starts a one-member node; resolves when it is leader and healthy. */
export async function startSingleNode(): Promise<{ kv: KvService; node: CairnNode; stop(): Promise<void> }> {
  const memberId = "8e9e05c52164694d";
  const node = await CairnNode.start({
    memberId,
    clusterId: "cdf818194e3a8c32",
    name: "default",
    initialMembers: [{ id: memberId, name: "default", peerUrls: ["https://127.0.0.1:2380"] }],
    clientUrls: ["http://127.0.0.1:2379"],
    storage: new MemoryStorage(),
    heartbeatIntervalMs: 10,
    electionTimeoutMs: 100,
    snapshotCount: 1000,
    logger: pino({ level: "silent" }),
    version: "test",
    raftSeed: 1,
  });
  const deadline = Date.now() + 5_000;
  while (!(await node.health()).health) {
    if (Date.now() > deadline) throw new Error("single node did not become healthy within 5 s");
    await new Promise((r) => setTimeout(r, 5));
  }
  return { kv: node, node, stop: () => node.stop() };
}
