/**
 * Run by bun.test.ts under Bun (not by vitest): two transports on loopback exchange 1000 messages
 * and a snapshot, a client without a certificate is refused, then both stop. Prints one JSON line.
 */
import { MessageType } from "../../../src/raft/types.ts";
import { createHttp2Transport } from "../../../src/transport/http2.ts";
import { clusterTls, ID_A, ID_B, message, waitFor } from "./helpers.ts";
import { rawRequest } from "./raw-client.ts";

const { members } = await clusterTls(2);
const received: number[] = [];
const snapshots: boolean[] = [];
const a = createHttp2Transport({
  clusterId: "c",
  memberId: ID_A,
  listenPeerUrl: "https://127.0.0.1:0",
  tls: members[0]!,
  peers: new Map(),
  onMessage: () => {},
  onSnapshotSent: (_peer, ok) => snapshots.push(ok),
});
const b = createHttp2Transport({
  clusterId: "c",
  memberId: ID_B,
  listenPeerUrl: "https://127.0.0.1:0",
  tls: members[1]!,
  peers: new Map(),
  onMessage: (m) => received.push(m.type === MessageType.Snap ? -1 : m.term),
});
await a.start();
await b.start();
a.setPeers(new Map([[ID_B, [b.listenPeerUrl()]]]));
a.send(Array.from({ length: 1000 }, (_, term) => message({ from: ID_A, to: ID_B, term })));
const snapshot = {
  metadata: { index: 1, term: 1, confState: { voters: [ID_A, ID_B], learners: [] } },
  data: new Uint8Array(1 << 20),
};
a.send([message({ type: MessageType.Snap, from: ID_A, to: ID_B, snapshot })]);
await waitFor(() => received.length === 1001 && snapshots.length === 1, "messages under Bun");
const noCert = await rawRequest(
  b.listenPeerUrl(),
  { ca: members[0]!.caPem },
  { method: "GET", path: "/cairn/cluster" },
);
const probe = await a.probeClusterId(b.listenPeerUrl());
await Promise.all([a.stop(), b.stop()]);
console.log(
  JSON.stringify({
    inOrder: received.filter((t) => t >= 0).every((t, i) => t === i),
    snapshots,
    noCertStatus: noCert.status ?? null,
    probe,
  }),
);
