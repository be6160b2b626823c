import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Message, MessageType, type NodeId } from "../../../src/raft/types.ts";
import { encodeMessages } from "../../../src/transport/codec.ts";
import { MAX_SNAPSHOT_CHUNK_BYTES } from "../../../src/transport/limits.ts";
import {
  encodeSnapshotChunk,
  encodeSnapshotEnd,
  SnapshotBodyReader,
  SnapshotStreamError,
} from "../../../src/transport/snapshot-wire.ts";
import type { PeerTlsConfig } from "../../../src/transport/types.ts";
import { crc32 } from "../../../src/util/crc.ts";
import { encodeFrame } from "../../../src/util/framing.ts";
import { startMember, type TestMember } from "./cluster.ts";
import { clusterTls, comparable, ID_A, ID_B, ID_C, message } from "./helpers.ts";
import { type RawTls, rawRequest } from "./raw-client.ts";
import { stateSink } from "./snapshot-source.ts";

/** A MsgSnap from A to `to` carrying `data` inline (empty: the streamed form). */
const snap = (data = new Uint8Array(0), to: NodeId = ID_B): Message =>
  message({
    type: MessageType.Snap,
    from: ID_A,
    to,
    term: 2,
    snapshot: { metadata: { index: 50, term: 2, confState: { voters: [ID_A, ID_B], learners: [] } }, data },
  });
const messageFrame = (m = snap()) => encodeFrame(encodeMessages([m]));
const d1 = new Uint8Array(3000).map((_, i) => i % 7);
const d2 = new Uint8Array(MAX_SNAPSHOT_CHUNK_BYTES).map((_, i) => i % 11);
const state = Buffer.concat([d1, d2]);
const good = [messageFrame(), encodeSnapshotChunk(d1), encodeSnapshotChunk(d2)];
const end = (bytes = state.byteLength, crc = crc32(state)) => encodeSnapshotEnd(bytes, crc);
/** A frame with payload kind + `bytes` bytes. */
const kindFrame = (kind: number, bytes: number) => encodeFrame(new Uint8Array(1 + bytes).fill(kind, 0, 1));
/** A frame header announcing `bytes` of payload. */
const header = (bytes: number) => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(bytes);
  return h;
};

describe("snapshot request body (raw requests)", () => {
  let tls: PeerTlsConfig[];
  let streaming: TestMember;
  let collecting: TestMember;
  const sink = stateSink();
  let client: RawTls;

  beforeAll(async () => {
    tls = (await clusterTls(2)).members;
    streaming = await startMember(ID_B, tls[1]!, { onSnapshot: sink.onSnapshot });
    collecting = await startMember(ID_B, tls[1]!);
    client = { ca: tls[0]!.caPem, cert: tls[0]!.certPem, key: tls[0]!.keyPem };
  });
  afterAll(async () => {
    await Promise.all([streaming?.transport.stop(), collecting?.transport.stop()]);
  });

  const post = (member: TestMember, parts: Uint8Array[]) =>
    rawRequest(member.transport.listenPeerUrl(), client, {
      method: "POST",
      path: "/cairn/raft/snapshot",
      headers: { "x-cairn-cluster-id": "cluster-1", "x-cairn-member-id": ID_A },
      body: Buffer.concat(parts),
    });

  it("accepts an intact body and hands over the state", async () => {
    const out = await post(streaming, [...good, end()]);
    expect(out.status).toBe(200);
    expect(sink.record.staged).toBe(1);
    expect(sink.record.bytes).toBe(state.byteLength);
    const collected = await post(collecting, [...good, end()]);
    expect(collected.status).toBe(200);
    expect(comparable(collecting.received)).toStrictEqual(comparable([snap(new Uint8Array(state))]));
  });

  it.each([
    ["a CRC that does not match", 400, "corrupt", [...good, end(state.byteLength, crc32(state) ^ 1)]],
    ["a byte count that does not match", 400, "corrupt", [...good, end(state.byteLength + 1)]],
    ["no end frame", 400, "truncated", good],
    ["an end inside a chunk frame", 400, "truncated", [good[0]!, encodeSnapshotChunk(d1).subarray(0, 100)]],
    ["an unknown frame kind", 400, "malformed", [...good, kindFrame(7, 10), end()]],
    ["an empty chunk", 400, "malformed", [...good, kindFrame(1, 0), end()]],
    ["bytes after the end frame", 400, "malformed", [...good, end(), encodeSnapshotChunk(d1)]],
    ["a chunk over the limit", 413, "too_large", [good[0]!, header(MAX_SNAPSHOT_CHUNK_BYTES + 2), d1]],
  ])("rejects a body with %s: answers %i, the data throws %s", async (_what, status, reason, parts) => {
    const before = { errors: sink.record.errors.length, staged: sink.record.staged };
    const out = await post(streaming, parts as Uint8Array[]);
    expect(out.status).toBe(status);
    expect(sink.record.errors.length).toBe(before.errors + 1);
    const err = sink.record.errors.at(-1);
    expect(err).toBeInstanceOf(SnapshotStreamError);
    expect((err as SnapshotStreamError).reason).toBe(reason);
    expect(sink.record.staged).toBe(before.staged);
    // Without onSnapshot: refused alike, nothing delivered.
    const received = collecting.received.length;
    expect((await post(collecting, parts as Uint8Array[])).status).toBe(status);
    expect(collecting.received.length).toBe(received);
  });

  it.each([
    ["a MsgSnap carrying inline data", [messageFrame(snap(d1)), end(0, 0)]],
    ["a MsgSnap addressed to another member", [messageFrame(snap(undefined, ID_C)), end(0, 0)]],
    ["a heartbeat", [messageFrame(message({ from: ID_A, to: ID_B })), end(0, 0)]],
  ])("refuses %s with 400 without calling onSnapshot", async (_what, parts) => {
    const calls = sink.record.messages.length;
    expect((await post(streaming, parts)).status).toBe(400);
    expect(sink.record.messages.length).toBe(calls);
  });
});

describe("SnapshotBodyReader", () => {
  /** A reader over a stream already holding `parts` (ended unless `open`). */
  function reader(parts: Uint8Array[], maxDataBytes = 1 << 22, open = false) {
    const stream = new PassThrough();
    for (const p of parts) stream.write(p);
    if (!open) stream.end();
    return { stream, reader: new SnapshotBodyReader(stream, maxDataBytes) };
  }
  async function drain(r: SnapshotBodyReader): Promise<number[]> {
    const sizes: number[] = [];
    for await (const chunk of r.chunks()) sizes.push(chunk.byteLength);
    return sizes;
  }

  it("reads the message then the chunks, and is complete after the end frame", async () => {
    const { reader: r } = reader([...good, end()]);
    expect(comparable([await r.readMessage()])).toStrictEqual(comparable([snap()]));
    expect(await drain(r)).toStrictEqual([d1.byteLength, d2.byteLength]);
    expect(r.complete).toBe(true);
    expect(r.failure).toBeNull();
  });

  it("throws too_large past maxDataBytes, and remembers it", async () => {
    const { reader: r } = reader([...good, end()], 4000);
    await r.readMessage();
    await expect(drain(r)).rejects.toMatchObject({ reason: "too_large" });
    expect(r.failure?.status).toBe(413);
    expect(r.complete).toBe(false);
  });

  it("reads the byte count of the end frame as 64 bits", async () => {
    const data = new Uint8Array([1, 2, 3, 4, 5]);
    const { reader: r } = reader([
      messageFrame(),
      encodeSnapshotChunk(data),
      encodeSnapshotEnd(2 ** 32 + 5, crc32(data)),
    ]);
    await r.readMessage();
    await expect(drain(r)).rejects.toThrow(/announced 4294967301 bytes/);
  });

  it("throws aborted when the request is reset, and when aborted by its owner", async () => {
    const reset = reader([messageFrame(), encodeSnapshotChunk(d1)], 1 << 22, true);
    await reset.reader.readMessage();
    const iterator = reset.reader.chunks();
    expect((await iterator.next()).value?.byteLength).toBe(d1.byteLength);
    reset.stream.destroy();
    await expect(iterator.next()).rejects.toMatchObject({ reason: "aborted" });
    expect(reset.reader.failure?.status).toBe(0);

    const idle = reader([messageFrame()], 1 << 22, true);
    await idle.reader.readMessage();
    const pending = drain(idle.reader);
    idle.reader.abort(new SnapshotStreamError("aborted", "idle"));
    await expect(pending).rejects.toThrow("idle");
  });
});
