import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Message, MessageType, type NodeId } from "../../../src/raft/types.ts";
import type { PeerTlsConfig } from "../../../src/transport/types.ts";
import { connectAll, startMember, type TestMember } from "./cluster.ts";
import {
  clusterTls,
  comparable,
  entry,
  freePort,
  ID_A,
  ID_B,
  ID_C,
  message,
  sleep,
  tcpProxy,
  waitFor,
} from "./helpers.ts";

let tls: PeerTlsConfig[];
const running: TestMember[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  tls = (await clusterTls(3)).members;
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.transport.stop()));
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function member(
  id: NodeId,
  i: number,
  extra: Parameters<typeof startMember>[2] = {},
): Promise<TestMember> {
  const m = await startMember(id, tls[i]!, extra);
  running.push(m);
  return m;
}

const hb = (from: NodeId, to: NodeId, term: number) =>
  message({ type: MessageType.Heartbeat, from, to, term });
const terms = (ms: Message[], from: NodeId) => ms.filter((m) => m.from === from).map((m) => m.term);
const range = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

describe("HTTP/2 peer transport", () => {
  it("three members exchange messages, each sender's messages arriving in order", async () => {
    const members = [await member(ID_A, 0), await member(ID_B, 1), await member(ID_C, 2)];
    connectAll(members);
    for (let term = 1; term <= 200; term++) {
      for (const from of members) {
        from.transport.send(members.filter((to) => to !== from).map((to) => hb(from.id, to.id, term)));
      }
      if (term % 50 === 0) await sleep(1);
    }
    for (const to of members) {
      await waitFor(() => to.received.length === 400, `${to.id} to receive 400 messages`);
      for (const from of members) {
        if (from !== to) expect(terms(to.received, from.id)).toStrictEqual(range(200, 1));
      }
      expect(to.received.every((m) => m.to === to.id)).toBe(true);
    }
    for (const m of members) expect(m.unreachable).toStrictEqual([]);
  });

  it("batches many queued messages into few frames", async () => {
    const a = await member(ID_A, 0, { maxQueueMessages: 10_000 });
    const b = await member(ID_B, 1);
    connectAll([a, b]);
    a.transport.send(range(5000).map((t) => hb(ID_A, ID_B, t)));
    await waitFor(() => b.received.length === 5000, "5000 messages");
    expect(terms(b.received, ID_A)).toStrictEqual(range(5000));
    const stats = a.transport.peerStats()[0]!;
    expect(stats.sentMessages).toBe(5000);
    expect(stats.sentFrames).toBeLessThan(50);
    expect(stats.droppedMessages).toBe(0);
  });

  it("carries large entries intact under stream backpressure, in order", async () => {
    const a = await member(ID_A, 0);
    const b = await member(ID_B, 1);
    connectAll([a, b]);
    const sent = range(48).map((i) =>
      message({
        type: MessageType.App,
        from: ID_A,
        to: ID_B,
        term: 1,
        index: i,
        entries: [entry(i + 1, 256 * 1024)],
      }),
    );
    a.transport.send(sent);
    await waitFor(() => b.received.length === sent.length, "48 large messages");
    expect(comparable(b.received)).toStrictEqual(comparable(sent));
    // 12 MiB in batches of at most ~4 MiB: more than one frame, fewer than one per message.
    const stats = a.transport.peerStats()[0]!;
    expect(stats.sentFrames).toBeGreaterThan(2);
    expect(stats.sentFrames).toBeLessThan(48);
  });

  it("sends a snapshot on its own request and reports it sent", async () => {
    const a = await member(ID_A, 0);
    const b = await member(ID_B, 1);
    connectAll([a, b]);
    const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const snap = message({
      type: MessageType.Snap,
      from: ID_A,
      to: ID_B,
      term: 4,
      snapshot: {
        metadata: { index: 1000, term: 4, confState: { voters: [ID_A, ID_B], learners: [] } },
        data,
      },
    });
    a.transport.send([snap]);
    await waitFor(() => a.snapshotsSent.length === 1, "snapshot outcome");
    expect(a.snapshotsSent).toStrictEqual([{ peer: ID_B, ok: true }]);
    expect(comparable(b.received)).toStrictEqual(comparable([snap]));
    // Not carried by the message stream.
    expect(a.transport.peerStats()[0]!.sentMessages).toBe(0);
  });

  it("reports a snapshot to a dead peer as failed", async () => {
    const a = await member(ID_A, 0);
    a.transport.setPeers(new Map([[ID_B, [`https://127.0.0.1:${await freePort()}`]]]));
    const snap = message({
      type: MessageType.Snap,
      from: ID_A,
      to: ID_B,
      snapshot: {
        metadata: { index: 1, term: 1, confState: { voters: [ID_A], learners: [] } },
        data: new Uint8Array(5),
      },
    });
    a.transport.send([snap]);
    await waitFor(() => a.snapshotsSent.length === 1, "snapshot outcome");
    expect(a.snapshotsSent).toStrictEqual([{ peer: ID_B, ok: false }]);
  });

  it("a dead peer does not block a live one, and its queue stays bounded", async () => {
    const a = await member(ID_A, 0, { maxQueueMessages: 50 });
    const b = await member(ID_B, 1);
    const deadUrl = `https://127.0.0.1:${await freePort()}`;
    a.transport.setPeers(
      new Map([
        [ID_B, [b.transport.listenPeerUrl()]],
        [ID_C, [deadUrl]],
      ]),
    );
    for (let round = 0; round < 40; round++) {
      a.transport.send(range(25, round * 25).flatMap((t) => [hb(ID_A, ID_C, t), hb(ID_A, ID_B, t)]));
      await waitFor(() => b.received.length === (round + 1) * 25, `round ${round} at the live peer`);
    }
    expect(terms(b.received, ID_A)).toStrictEqual(range(1000));
    const dead = a.transport.peerStats().find((s) => s.peer === ID_C)!;
    expect(dead.queuedMessages).toBeLessThanOrEqual(50);
    expect(dead.droppedMessages).toBeGreaterThanOrEqual(1000 - 50);
    expect(a.unreachable).toContain(ID_C);
    expect(a.unreachable).not.toContain(ID_B);
  });

  /** A, B behind a freezable proxy, and C direct; both connected. */
  async function frozenSetup(extra: Parameters<typeof startMember>[2]) {
    const a = await member(ID_A, 0, extra);
    const b = await member(ID_B, 1);
    const c = await member(ID_C, 2);
    const proxy = await tcpProxy(Number(new URL(b.transport.listenPeerUrl()).port));
    cleanups.push(() => proxy.close());
    a.transport.setPeers(
      new Map([
        [ID_B, [`https://127.0.0.1:${proxy.port}`]],
        [ID_C, [c.transport.listenPeerUrl()]],
      ]),
    );
    a.transport.send([hb(ID_A, ID_B, 0), hb(ID_A, ID_C, 0)]);
    await waitFor(() => b.received.length === 1 && c.received.length === 1, "first heartbeats");
    return { a, b, c, proxy };
  }

  /** Sends 20 rounds of 20 × 64 KiB MsgApp to B and one heartbeat to C; each round waits for C. */
  async function flood(a: TestMember, c: TestMember) {
    const big = (i: number) =>
      message({ type: MessageType.App, from: ID_A, to: ID_B, index: i, entries: [entry(i, 64 * 1024)] });
    for (let round = 1; round <= 20; round++) {
      a.transport.send([...range(20).map((i) => big(round * 20 + i)), hb(ID_A, ID_C, round)]);
      await waitFor(() => c.received.length === round + 1, `round ${round} at the live peer`);
    }
  }

  it("a peer that stops reading fills only its own bounded queue (stream backpressure)", async () => {
    // PINGs far apart: the session to the frozen peer stays up, only backpressure bounds the memory.
    const { a, b, c, proxy } = await frozenSetup({ maxQueueMessages: 100, pingIntervalMs: 600_000 });
    proxy.freeze();
    await flood(a, c);
    const frozen = a.transport.peerStats().find((s) => s.peer === ID_B)!;
    expect(frozen.failures).toBe(0);
    expect(frozen.queuedMessages).toBeLessThanOrEqual(100);
    // 400 × 64 KiB = 25 MiB offered; the stream took at most a few MiB before it stopped draining.
    expect(frozen.sentMessages).toBeLessThan(150);
    expect(frozen.droppedMessages).toBeGreaterThan(150);
    expect(a.unreachable).toContain(ID_B);
    expect(a.unreachable).not.toContain(ID_C);
    expect(terms(c.received, ID_A)).toStrictEqual(range(21));
    expect(b.received).toHaveLength(1);
  });

  it("detects a frozen peer (open TCP, no PING answers) and tears its session down", async () => {
    const { a, c, proxy } = await frozenSetup({ pingIntervalMs: 100, dialTimeoutMs: 300 });
    proxy.freeze();
    a.transport.send([hb(ID_A, ID_B, 1)]);
    await waitFor(() => a.transport.peerStats().find((s) => s.peer === ID_B)!.failures > 0, "ping timeout");
    expect(a.unreachable).toContain(ID_B);
    expect(a.transport.peerStats().find((s) => s.peer === ID_B)!.connected).toBe(false);
    a.transport.send([hb(ID_A, ID_C, 1)]);
    await waitFor(() => c.received.length === 2, "live peer still served");
  });

  it("reconnects after the peer restarts, and messages flow again", async () => {
    const a = await member(ID_A, 0);
    const b1 = await member(ID_B, 1);
    connectAll([a, b1]);
    a.transport.send([hb(ID_A, ID_B, 1)]);
    await waitFor(() => b1.received.length === 1, "message before restart");

    const url = b1.transport.listenPeerUrl();
    await b1.transport.stop();
    running.splice(running.indexOf(b1), 1);
    a.transport.send([hb(ID_A, ID_B, 2)]);
    await waitFor(() => a.unreachable.includes(ID_B), "peer reported unreachable");

    const b2 = await member(ID_B, 1, { listenPeerUrl: url });
    a.transport.send([hb(ID_A, ID_B, 3)]);
    await waitFor(() => b2.received.some((m) => m.term === 3), "message after restart");
    await waitFor(() => a.transport.peerStats()[0]!.connected, "stream re-established");
  });

  it("keeps a stream open to every peer with nothing to send, and re-opens it after the peer restarts", async () => {
    const a = await member(ID_A, 0);
    const b1 = await member(ID_B, 1);
    const url = b1.transport.listenPeerUrl();
    connectAll([a, b1]);
    // Nothing is ever sent in this test: the streams exist because peers are known.
    await waitFor(() => a.transport.peerStats()[0]!.connected, "a's stream to b open while idle");
    await waitFor(() => b1.transport.peerStats()[0]!.connected, "b's stream to a open while idle");

    await b1.transport.stop();
    running.splice(running.indexOf(b1), 1);
    await waitFor(() => !a.transport.peerStats()[0]!.connected, "a sees b's stream gone");
    expect(a.unreachable).toContain(ID_B);

    const b2 = await member(ID_B, 1, { listenPeerUrl: url });
    await waitFor(
      () => a.transport.peerStats()[0]!.connected,
      "a re-opens its idle stream to the restarted b",
    );
    expect(a.transport.peerStats()[0]!.sentMessages).toBe(0);
    expect(b2.received).toStrictEqual([]);
  });

  it("refuses a peer of another cluster with 412 and never delivers its messages", async () => {
    const a = await member(ID_A, 0, { clusterId: "cluster-other" });
    const b = await member(ID_B, 1);
    connectAll([a, b]);
    a.transport.send([hb(ID_A, ID_B, 1)]);
    await waitFor(() => a.unreachable.includes(ID_B), "sender to see the refusal");
    await sleep(100);
    expect(b.received).toStrictEqual([]);
    expect(a.transport.peerStats()[0]!.connected).toBe(false);
  });

  it("drops messages to unknown peers or of local types without throwing, and everything after stop()", async () => {
    const a = await member(ID_A, 0);
    const b = await member(ID_B, 1);
    connectAll([a, b]);
    expect(() =>
      a.transport.send([
        hb(ID_A, ID_C, 1),
        message({ type: MessageType.Hup, from: ID_A, to: ID_B }),
        message({ from: ID_A, to: ID_B, term: -1 }),
        hb(ID_A, ID_B, 2),
      ]),
    ).not.toThrow();
    await waitFor(() => b.received.length === 1, "the one valid message");
    expect(b.received[0]!.term).toBe(2);
    await a.transport.stop();
    expect(() => a.transport.send([hb(ID_A, ID_B, 3)])).not.toThrow();
    await sleep(100);
    expect(b.received).toHaveLength(1);
  });

  it("setPeers removes a peer (its messages are dropped) and follows a new URL", async () => {
    const a = await member(ID_A, 0);
    const b = await member(ID_B, 1);
    const c = await member(ID_C, 2, { memberId: ID_B }); // a replacement listening elsewhere
    connectAll([a, b]);
    a.transport.send([hb(ID_A, ID_B, 1)]);
    await waitFor(() => b.received.length === 1, "first message");

    a.transport.setPeers(new Map([[ID_B, [c.transport.listenPeerUrl()]]]));
    a.transport.send([hb(ID_A, ID_B, 2)]);
    await waitFor(() => c.received.length === 1, "message at the new URL");
    expect(b.received).toHaveLength(1);

    a.transport.setPeers(new Map());
    a.transport.send([hb(ID_A, ID_B, 3)]);
    await sleep(100);
    expect(c.received).toHaveLength(1);
    expect(a.transport.peerStats()).toStrictEqual([]);
  });

  it("stop() leaves no socket or timer behind", async () => {
    const kinds = ["Timeout", "TCPSocketWrap", "TCPServerWrap", "TLSWrap"];
    const count = () => process.getActiveResourcesInfo().filter((k) => kinds.includes(k)).length;
    const before = count();
    const a = await member(ID_A, 0, { pingIntervalMs: 50 });
    const b = await member(ID_B, 1);
    a.transport.setPeers(
      new Map([
        [ID_B, [b.transport.listenPeerUrl()]],
        [ID_C, [`https://127.0.0.1:${await freePort()}`]],
      ]),
    );
    a.transport.send([hb(ID_A, ID_B, 1), hb(ID_A, ID_C, 1)]);
    b.transport.setPeers(new Map([[ID_A, [a.transport.listenPeerUrl()]]]));
    b.transport.send([hb(ID_B, ID_A, 1)]);
    await waitFor(
      () => b.received.length === 1 && a.received.length === 1 && a.unreachable.includes(ID_C),
      "traffic",
    );
    expect(count()).toBeGreaterThan(before);
    await Promise.all(running.splice(0).map((m) => m.transport.stop()));
    await new Promise((r) => setImmediate(r));
    expect(count()).toBeLessThanOrEqual(before);
  });
});
