/**
 * Run by bun.test.ts under Bun (not by vitest): two transports on loopback exchange 1000 messages
 * and an inline snapshot (collected for onMessage), a third receives a 12 MiB snapshot streamed in
 * chunks to its onSnapshot, a client without a certificate is refused, then all stop. Prints one
 * JSON line.
 */
import { MessageType } from "../../../src/raft/types.ts";
import { createHttp2Transport } from "../../../src/transport/http2.ts";
import type { PeerTlsConfig } from "../../../src/transport/types.ts";
import { clusterTls, ID_A, ID_B, ID_C, message, waitFor } from "./helpers.ts";
import { rawRequest } from "./raw-client.ts";
import { stateSink, stateSource } from "./snapshot-source.ts";

const { members } = await clusterTls(3);
const received: number[] = [];
const snapshots: boolean[] = [];
const transport = (memberId: string, tls: PeerTlsConfig, extra: object) =>
  createHttp2Transport({
    clusterId: "c",
    memberId,
    listenPeerUrl: "https://127.0.0.1:0",
    tls,
    peers: new Map(),
    onMessage: () => {},
    ...extra,
  });
const a = transport(ID_A, members[0]!, {
  onSnapshotSent: (_peer: string, ok: boolean) => snapshots.push(ok),
});
const b = transport(ID_B, members[1]!, {
  onMessage: (m: { type: MessageType; term: number }) =>
    received.push(m.type === MessageType.Snap ? -1 : m.term),
});
const sink = stateSink();
const c = transport(ID_C, members[2]!, { onSnapshot: sink.onSnapshot });
await Promise.all([a.start(), b.start(), c.start()]);
a.setPeers(
  new Map([
    [ID_B, [b.listenPeerUrl()]],
    [ID_C, [c.listenPeerUrl()]],
  ]),
);
a.send(Array.from({ length: 1000 }, (_, term) => message({ from: ID_A, to: ID_B, term })));
const snapshot = (data: Uint8Array) => ({
  metadata: { index: 1, term: 1, confState: { voters: [ID_A, ID_B, ID_C], learners: [] } },
  data,
});
a.send([
  message({ type: MessageType.Snap, from: ID_A, to: ID_B, snapshot: snapshot(new Uint8Array(1 << 20)) }),
]);
await waitFor(() => received.length === 1001 && snapshots.length === 1, "messages under Bun");
const source = stateSource(Array.from({ length: 6 }, () => 2 << 20));
a.sendSnapshot(
  message({ type: MessageType.Snap, from: ID_A, to: ID_C, snapshot: snapshot(new Uint8Array(0)) }),
  source.data,
);
await waitFor(() => snapshots.length === 2, "streamed snapshot under Bun", 20_000);
const noCert = await rawRequest(
  b.listenPeerUrl(),
  { ca: members[0]!.caPem },
  { method: "GET", path: "/cairn/cluster" },
);
const probe = await a.probeClusterId(b.listenPeerUrl());
await Promise.all([a.stop(), b.stop(), c.stop()]);
console.log(
  JSON.stringify({
    inOrder: received.filter((t) => t >= 0).every((t, i) => t === i),
    snapshots,
    streamed: {
      bytes: sink.record.bytes,
      intact: sink.record.digest() === source.digest(),
      staged: sink.record.staged,
    },
    noCertStatus: noCert.status ?? null,
    probe,
  }),
);
