/**
 * The TypeScript client across a leader crash (issue 4, Tests: "a leader killed mid-watch while
 * writes continue, and the client's watch resumes with every event exactly once"). Three real
 * `cairn serve` processes; a CairnClient watches a prefix through the leader (first endpoint);
 * another CairnClient writes one new key after another; the leader is killed -9 while a write is
 * in flight and the writes go on through the failover. At the end the watch (resumed by the
 * client on another member with Last-Event-ID) has seen every acknowledged write exactly once,
 * with the write's revision and value, in revision order, and nothing that was refused for sure.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CairnClient, isClientError, seededRandom } from "../../src/client/index.ts";
import { TestCluster } from "../helpers/cluster.ts";

const PREFIX = "it/client/";
/** Writes acknowledged before the kill. */
const BEFORE_KILL = 20;
/** Writes acknowledged after the kill before the test stops writing. */
const AFTER_KILL = 30;
/** Time the watch consumer takes per event (ms). */
const CONSUMER_DELAY_MS = 25;
/** Bound on the writing phase (ms). */
const WRITE_BUDGET_MS = 20_000;

interface Seen {
  revision: number;
  key: string;
  value: string;
}

describe("client watch across a leader crash (three real processes)", () => {
  let cluster: TestCluster;
  const clients: CairnClient[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.create(3);
    await cluster.startAll();
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.destroy();
  });

  it("resumes the watch after kill -9 of the leader: every acknowledged write's event exactly once, in order", async () => {
    const leader = await cluster.waitForLeader();
    const endpoints = [leader, ...cluster.members.filter((m) => m !== leader)].map((m) => m.clientUrl);
    const options = {
      endpoints,
      retry: { maxAttempts: 10, initialBackoffMs: 50, maxBackoffMs: 500, random: seededRandom(4) },
    };
    const watcher = new CairnClient(options);
    const writer = new CairnClient(options);
    clients.push(watcher, writer);

    const seen: Seen[] = [];
    // A consumer slower than the writer: at the kill, events are still queued on the leader's
    // side of the stream and are lost with it, so they must come back by the resume.
    const w = watcher.watch(PREFIX, { prefix: true }, async (ev) => {
      if (ev.type !== "put") throw new Error(`unexpected ${ev.type} event`);
      seen.push({ revision: ev.revision, key: ev.kv.key, value: ev.kv.value });
      await new Promise((r) => setTimeout(r, CONSUMER_DELAY_MS));
    });
    await w.ready;
    expect(watcher.endpoint).toBe(leader.clientUrl);

    const acked = new Map<string, Seen>();
    const unknown = new Set<string>(); // outcome unknown: may or may not appear, at most once
    const refused = new Set<string>(); // definitely not applied: must never appear
    let killing: Promise<void> | undefined;
    let ackedAfterKill = 0;
    const deadline = Date.now() + WRITE_BUDGET_MS;
    for (let i = 0; ackedAfterKill < AFTER_KILL; i++) {
      if (Date.now() > deadline) throw new Error(`only ${ackedAfterKill} writes acknowledged after the kill`);
      const key = `${PREFIX}${String(i).padStart(4, "0")}`;
      const value = `v${i}`;
      const put = writer.put(key, value);
      // Kill -9 the leader while this write is in flight.
      if (i === BEFORE_KILL) killing = cluster.kill(leader);
      try {
        const r = await put;
        acked.set(key, { revision: r.revision, key, value });
        if (killing) ackedAfterKill++;
      } catch (err) {
        if (isClientError(err, "unknown_outcome")) unknown.add(key);
        else if (isClientError(err)) refused.add(key);
        else throw err;
      }
    }
    await killing;

    const last = Math.max(...[...acked.values()].map((a) => a.revision));
    const waitUntil = Date.now() + 10_000;
    while (!seen.some((s) => s.revision >= last)) {
      if (Date.now() > waitUntil) {
        throw new Error(`the watch did not reach revision ${last}; last seen ${seen.at(-1)?.revision}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    w.cancel();
    expect((await w.done).reason).toBe("cancelled");

    // In revision order, each revision once.
    const revisions = seen.map((s) => s.revision);
    for (let i = 1; i < revisions.length; i++) expect(revisions[i]!).toBeGreaterThan(revisions[i - 1]!);
    // Each key is written once, so each key appears at most once.
    expect(new Set(seen.map((s) => s.key)).size).toBe(seen.length);
    // Every acknowledged write, with its revision and value.
    const byKey = new Map(seen.map((s) => [s.key, s]));
    for (const a of acked.values()) expect(byKey.get(a.key)).toEqual(a);
    // Nothing else but writes whose outcome was unknown; nothing that was refused.
    for (const s of seen) {
      if (!acked.has(s.key)) expect(unknown.has(s.key)).toBe(true);
      expect(refused.has(s.key)).toBe(false);
    }
    expect(acked.size).toBeGreaterThanOrEqual(BEFORE_KILL + AFTER_KILL);
    // The watch really was cut and resumed elsewhere.
    expect(w.connections).toBeGreaterThanOrEqual(2);
    expect(watcher.endpoint).not.toBe(leader.clientUrl);
  }, 30_000);
});
