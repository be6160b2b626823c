import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Message, MessageType, type NodeId } from "../../../src/raft/types.ts";
import { FAILPOINTS_FILE_ENV, type FailpointRules } from "../../../src/transport/failpoints.ts";
import { MAX_SNAPSHOT_CHUNK_BYTES } from "../../../src/transport/limits.ts";
import { SnapshotStreamError } from "../../../src/transport/snapshot-wire.ts";
import { connectAll, memberFixture, startMember, type TestMember } from "./cluster.ts";
import { captureLogger, comparable, freePort, ID_A, ID_B, message, sleep, waitFor } from "./helpers.ts";
import { stateSink, stateSource } from "./snapshot-source.ts";

const MiB = 1024 * 1024;
const { tls, running } = memberFixture(2);

/** A started sender A and receiver B (with `onSnapshot` when given), connected. */
async function pair(onSnapshot?: (m: Message, data: AsyncIterable<Uint8Array>) => Promise<void>) {
  const a = await startMember(ID_A, tls[0]!);
  const b = await startMember(ID_B, tls[1]!, onSnapshot ? { onSnapshot } : {});
  running.push(a, b);
  connectAll([a, b]);
  return { a, b };
}

/** A MsgSnap from A to B with `data` (empty by default). */
function snapMessage(data = new Uint8Array(0), to: NodeId = ID_B): Message {
  return message({
    type: MessageType.Snap,
    from: ID_A,
    to,
    term: 3,
    snapshot: { metadata: { index: 900, term: 3, confState: { voters: [ID_A, ID_B], learners: [] } }, data },
  });
}

const outcome = async (a: TestMember) => {
  await waitFor(() => a.snapshotsSent.length === 1, "snapshot outcome", 20_000);
  return a.snapshotsSent;
};

describe("snapshot streaming", () => {
  it("streams a 40 MiB state in chunks to onSnapshot, byte-identical and incrementally", async () => {
    // Chunks the sender must slice (3 MiB), small ones, and an empty one; 40 MiB in all.
    const sizes = [...Array.from({ length: 12 }, () => [3 * MiB, 300 * 1024, 1, 0]).flat()];
    sizes.push(40 * MiB - sizes.reduce((x, y) => x + y, 0));
    const source = stateSource(sizes);
    let producedAtFirstChunk = -1;
    let maxLeadBytes = 0;
    const sink = stateSink({
      onChunk: () => {
        if (producedAtFirstChunk < 0) producedAtFirstChunk = source.progress.produced;
        maxLeadBytes = Math.max(maxLeadBytes, source.progress.producedBytes - sink.record.bytes);
      },
    });
    const { a } = await pair(sink.onSnapshot);
    a.transport.sendSnapshot(snapMessage(), source.data);

    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: true }]);
    expect(sink.record.bytes).toBe(40 * MiB);
    expect(sink.record.digest()).toBe(source.digest());
    expect(comparable(sink.record.messages)).toStrictEqual(comparable([snapMessage()]));
    expect(sink.record.staged).toBe(1);
    // Never more than one chunk handed over at a time, and the chunks arrived as they were produced.
    expect(sink.record.maxChunkBytes).toBeLessThanOrEqual(MAX_SNAPSHOT_CHUNK_BYTES);
    expect(sink.record.chunks).toBeGreaterThanOrEqual(40);
    expect(producedAtFirstChunk).toBeLessThan(sizes.length);
    // Produced but not yet consumed: the source's current chunk (≤ 3 MiB here), one written chunk,
    // the 1 MiB stream window, the chunk at the receiver. Far below the 40 MiB state.
    expect(maxLeadBytes).toBeLessThanOrEqual(8 * MiB);
    expect(source.progress).toMatchObject({ calls: 1, finished: true, closed: true });
  });

  it("a slow onSnapshot holds the sender back: it reads only a few chunks ahead", async () => {
    const chunks = 30;
    const source = stateSource(Array.from({ length: chunks }, () => MAX_SNAPSHOT_CHUNK_BYTES));
    let maxLeadChunks = 0;
    const sink = stateSink({
      delayMs: 15,
      onChunk: () => {
        maxLeadChunks = Math.max(maxLeadChunks, source.progress.produced - sink.record.chunks);
      },
    });
    const { a } = await pair(sink.onSnapshot);
    a.transport.sendSnapshot(snapMessage(), source.data);
    await waitFor(() => sink.record.chunks >= 10, "ten chunks consumed");
    // The consumer is a third of the way; the source must not have run far ahead of it.
    expect(source.progress.produced).toBeLessThan(10 + 6);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: true }]);
    // One chunk at the consumer, one in its stream window, one written, one being encoded.
    expect(maxLeadChunks).toBeLessThanOrEqual(5);
    expect(sink.record.digest()).toBe(source.digest());
  });

  it("reports failure when onSnapshot rejects, before or after reading the data", async () => {
    for (const rejectAfterChunks of [0, 2]) {
      const sink = stateSink({ rejectAfterChunks });
      const { a } = await pair(sink.onSnapshot);
      const source = stateSource([MiB, MiB, MiB, MiB]);
      a.transport.sendSnapshot(snapMessage(), source.data);
      expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
      await waitFor(() => source.progress.closed, "source closed");
      expect(source.progress.finished).toBe(false);
      await Promise.all(running.splice(0).map((m) => m.transport.stop()));
    }
  });

  it("reports failure when onSnapshot resolves without reading the data to its end", async () => {
    const { a } = await pair(async (_m, data) => {
      for await (const _chunk of data) break;
    });
    const source = stateSource([MiB, MiB, MiB]);
    a.transport.sendSnapshot(snapMessage(), source.data);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
  });

  it("a source that throws aborts the request: the receiver's data throws, the sender reports failure", async () => {
    const sink = stateSink();
    const { a } = await pair(sink.onSnapshot);
    const source = stateSource([MiB, MiB, MiB, MiB], { failAt: 3 });
    a.transport.sendSnapshot(snapMessage(), source.data);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
    await waitFor(() => sink.record.errors.length === 1, "receiver error");
    expect(sink.record.errors[0]).toBeInstanceOf(SnapshotStreamError);
    // Node flushes what was written before the reset: the body ends without its end frame.
    expect(["aborted", "truncated"]).toContain((sink.record.errors[0] as SnapshotStreamError).reason);
    expect(sink.record.staged).toBe(0);
  });

  it("sends an inline-data MsgSnap given to send() in chunks, to onSnapshot or collected for onMessage", async () => {
    const data = new Uint8Array(3 * MiB + 5).map((_, i) => i % 253);
    const sink = stateSink();
    const { a } = await pair(sink.onSnapshot);
    a.transport.send([snapMessage(data)]);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: true }]);
    expect(sink.record.chunks).toBe(4);
    expect(sink.record.maxChunkBytes).toBe(MAX_SNAPSHOT_CHUNK_BYTES);
    expect(comparable(sink.record.messages)).toStrictEqual(comparable([snapMessage()]));
    const collecting = await pair();
    collecting.a.transport.send([snapMessage(data)]);
    expect(await outcome(collecting.a)).toStrictEqual([{ peer: ID_B, ok: true }]);
    expect(comparable(collecting.b.received)).toStrictEqual(comparable([snapMessage(data)]));
  });

  it("sends an empty state (no chunk, only the end frame)", async () => {
    const sink = stateSink();
    const { a } = await pair(sink.onSnapshot);
    a.transport.sendSnapshot(snapMessage(), () => []);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: true }]);
    expect(sink.record).toMatchObject({ chunks: 0, bytes: 0, staged: 1 });
  });

  it("refuses a MsgSnap with inline data or another message type in sendSnapshot", async () => {
    const { a } = await pair();
    expect(() => a.transport.sendSnapshot(snapMessage(new Uint8Array(1)), () => [])).toThrow(/empty/);
    expect(() => a.transport.sendSnapshot(message({ from: ID_A, to: ID_B }), () => [])).toThrow(/MsgSnap/);
  });
});

describe("snapshot sender lifecycle", () => {
  it("keeps one snapshot in flight per peer: another is failed at once, its data never read", async () => {
    const sink = stateSink({ delayMs: 5 });
    const { a } = await pair(sink.onSnapshot);
    const first = stateSource(Array.from({ length: 8 }, () => MiB));
    const second = stateSource([MiB]);
    a.transport.sendSnapshot(snapMessage(), first.data);
    await waitFor(() => sink.record.chunks > 0, "first snapshot under way");
    a.transport.sendSnapshot(snapMessage(), second.data);
    await waitFor(() => a.snapshotsSent.length === 2, "both outcomes", 20_000);
    expect(a.snapshotsSent).toStrictEqual([
      { peer: ID_B, ok: false },
      { peer: ID_B, ok: true },
    ]);
    expect(second.progress.calls).toBe(0);
    // The next one goes once the first has finished.
    a.transport.sendSnapshot(snapMessage(), second.data);
    await waitFor(() => a.snapshotsSent.length === 3, "third outcome");
    expect(a.snapshotsSent[2]).toStrictEqual({ peer: ID_B, ok: true });
  });

  it("fails a snapshot to a dead peer without reading its data", async () => {
    const a = await startMember(ID_A, tls[0]!);
    running.push(a);
    a.transport.setPeers(new Map([[ID_B, [`https://127.0.0.1:${await freePort()}`]]]));
    const source = stateSource([MiB]);
    a.transport.sendSnapshot(snapMessage(), source.data);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
    expect(source.progress.calls).toBe(0);
    // In back-off now: failed at once, still unread.
    a.transport.sendSnapshot(snapMessage(), source.data);
    await waitFor(() => a.snapshotsSent.length === 2, "second outcome");
    expect(source.progress.calls).toBe(0);
  });

  it("fails a snapshot to an unknown peer", async () => {
    const { a } = await pair();
    const source = stateSource([MiB]);
    a.transport.sendSnapshot(snapMessage(new Uint8Array(0), "00000000000000ff"), source.data);
    await waitFor(() => a.snapshotsSent.length === 1, "outcome");
    expect(a.snapshotsSent).toStrictEqual([{ peer: "00000000000000ff", ok: false }]);
    expect(source.progress.calls).toBe(0);
  });

  it("stop() in the middle of a snapshot closes the source before resolving; the receiver's data throws", async () => {
    const sink = stateSink({ delayMs: 20 });
    const { a } = await pair(sink.onSnapshot);
    const source = stateSource(Array.from({ length: 20 }, () => MiB));
    a.transport.sendSnapshot(snapMessage(), source.data);
    await waitFor(() => sink.record.chunks >= 2, "snapshot under way");
    await a.transport.stop();
    expect(source.progress).toMatchObject({ closed: true, finished: false });
    await waitFor(() => sink.record.errors.length === 1, "receiver error");
    expect((sink.record.errors[0] as SnapshotStreamError).reason).toBe("aborted");
    await sleep(50);
    expect(a.snapshotsSent).toStrictEqual([]); // nothing reported after stop()
  });

  it("a receiver stopping in the middle of a snapshot fails it and closes the source", async () => {
    const sink = stateSink({ delayMs: 20 });
    const { a, b } = await pair(sink.onSnapshot);
    const source = stateSource(Array.from({ length: 20 }, () => MiB));
    a.transport.sendSnapshot(snapMessage(), source.data);
    await waitFor(() => sink.record.chunks >= 2, "snapshot under way");
    await b.transport.stop();
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
    expect(source.progress).toMatchObject({ closed: true, finished: false });
    await waitFor(() => sink.record.errors.length === 1, "receiver error");
  });
});

describe("snapshot idle timeout", () => {
  const idle = { snapshotIdleTimeoutMs: 300 };
  const snapshotOf = (chunks: number, opts?: Parameters<typeof stateSource>[1]) =>
    stateSource(
      Array.from({ length: chunks }, () => MiB),
      opts,
    );

  it("slow but steady progress keeps a snapshot alive past the idle timeout", async () => {
    const sink = stateSink({ delayMs: 60 });
    const a = await startMember(ID_A, tls[0]!, idle);
    const b = await startMember(ID_B, tls[1]!, { ...idle, onSnapshot: sink.onSnapshot });
    running.push(a, b);
    connectAll([a, b]);
    const source = snapshotOf(12); // ≥ 720 ms in all
    a.transport.sendSnapshot(snapMessage(), source.data);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: true }]);
    expect(sink.record.digest()).toBe(source.digest());
  });

  it("the sender abandons a snapshot whose receiver stops taking chunks, and closes its source", async () => {
    let stall: Promise<void> | null = null;
    const sink = stateSink({
      onChunk: () => {
        if (sink.record.chunks === 2) stall = sleep(1_000);
      },
    });
    const stalling = async (m: Message, data: AsyncIterable<Uint8Array>) =>
      sink.onSnapshot(
        m,
        (async function* () {
          for await (const chunk of data) {
            yield chunk;
            if (stall !== null) await stall;
          }
        })(),
      );
    const a = await startMember(ID_A, tls[0]!, idle);
    const b = await startMember(ID_B, tls[1]!, { onSnapshot: stalling }); // default (long) idle time
    running.push(a, b);
    connectAll([a, b]);
    const source = snapshotOf(20);
    a.transport.sendSnapshot(snapMessage(), source.data);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
    expect(source.progress).toMatchObject({ closed: true, finished: false });
    await waitFor(() => sink.record.errors.length === 1, "receiver error after its stall");
    expect((sink.record.errors[0] as SnapshotStreamError).reason).toBe("aborted");
  });

  it("the receiver abandons a snapshot whose sender stalls: its data throws, the sender fails", async () => {
    const sink = stateSink();
    const a = await startMember(ID_A, tls[0]!); // default (long) idle time
    const b = await startMember(ID_B, tls[1]!, { ...idle, onSnapshot: sink.onSnapshot });
    running.push(a, b);
    connectAll([a, b]);
    const source = snapshotOf(6, { stallAt: 2, stallMs: 1_000 });
    a.transport.sendSnapshot(snapMessage(), source.data);
    await waitFor(() => sink.record.errors.length === 1, "receiver gives up");
    expect(sink.record.errors[0]!.message).toMatch(/idle for 300 ms/);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
    expect(source.progress).toMatchObject({ closed: true, finished: false });
  });
});

describe("snapshot failpoints", () => {
  /** Failpoint files of the running test: they stay until it ends (a missing file drops nothing). */
  const failpointDirs: string[] = [];
  afterEach(() => {
    for (const dir of failpointDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Starts a member whose transport reads failpoints `rules` (from a file named by the variable),
   * once it has read them.
   */
  async function memberWithFailpoints(
    id: NodeId,
    i: number,
    rules: Partial<Record<keyof FailpointRules, NodeId[]>>,
    extra: Parameters<typeof startMember>[2] = {},
  ): Promise<TestMember> {
    const dir = mkdtempSync(join(tmpdir(), "cairn-fp-"));
    failpointDirs.push(dir);
    const file = join(dir, "failpoints.json");
    writeFileSync(file, JSON.stringify(rules));
    const lines: Record<string, unknown>[] = [];
    process.env[FAILPOINTS_FILE_ENV] = file;
    try {
      const m = await startMember(id, tls[i]!, { ...extra, logger: captureLogger(lines) });
      running.push(m);
      await waitFor(
        () => lines.some((l) => String(l.msg).startsWith("test failpoints changed")),
        "failpoints read",
      );
      return m;
    } finally {
      delete process.env[FAILPOINTS_FILE_ENV];
    }
  }

  it("dropTo fails a snapshot at once without reading its data", async () => {
    const a = await memberWithFailpoints(ID_A, 0, { dropTo: [ID_B] });
    const sink = stateSink();
    const b = await startMember(ID_B, tls[1]!, { onSnapshot: sink.onSnapshot });
    running.push(b);
    connectAll([a, b]);
    const source = stateSource([MiB]);
    a.transport.sendSnapshot(snapMessage(), source.data);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
    expect(source.progress.calls).toBe(0);
    expect(sink.record.messages).toStrictEqual([]);
  });

  it("dropFrom refuses a snapshot request: the sender reports failure and closes its source", async () => {
    const a = await startMember(ID_A, tls[0]!);
    running.push(a);
    const sink = stateSink();
    const b = await memberWithFailpoints(ID_B, 1, { dropFrom: [ID_A] }, { onSnapshot: sink.onSnapshot });
    connectAll([a, b]);
    const source = stateSource(Array.from({ length: 8 }, () => MiB));
    a.transport.sendSnapshot(snapMessage(), source.data);
    expect(await outcome(a)).toStrictEqual([{ peer: ID_B, ok: false }]);
    // Read only if the request started before the refusal came back; closed before the outcome then.
    expect(source.progress.calls === 0 || source.progress.closed).toBe(true);
    expect(source.progress.finished).toBe(false);
    expect(sink.record.messages).toStrictEqual([]);
  });
});
