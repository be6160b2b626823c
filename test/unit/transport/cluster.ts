/** A few real transports on loopback for the transport tests. */
import { afterEach, beforeAll } from "vitest";
import type { Message, NodeId } from "../../../src/raft/types.ts";
import {
  createHttp2Transport,
  type Http2Transport,
  type Http2TransportOptions,
} from "../../../src/transport/http2.ts";
import type { PeerTlsConfig } from "../../../src/transport/types.ts";
import { clusterTls } from "./helpers.ts";

/** One member: its transport and what it observed. */
export interface TestMember {
  id: NodeId;
  tls: PeerTlsConfig;
  transport: Http2Transport;
  received: Message[];
  unreachable: NodeId[];
  snapshotsSent: { peer: NodeId; ok: boolean }[];
}

/** Creates and starts a transport on 127.0.0.1 (port 0 unless given) recording what it sees. */
export async function startMember(
  id: NodeId,
  tls: PeerTlsConfig,
  extra: Partial<Http2TransportOptions> = {},
): Promise<TestMember> {
  const member: Omit<TestMember, "transport"> = { id, tls, received: [], unreachable: [], snapshotsSent: [] };
  const transport = createHttp2Transport({
    clusterId: "cluster-1",
    memberId: id,
    listenPeerUrl: "https://127.0.0.1:0",
    tls,
    peers: new Map(),
    onMessage: (m) => member.received.push(m),
    onUnreachable: (peer) => member.unreachable.push(peer),
    onSnapshotSent: (peer, ok) => member.snapshotsSent.push({ peer, ok }),
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...extra,
  });
  await transport.start();
  return { ...member, transport };
}

/** Points every member at every other member. */
export function connectAll(members: TestMember[]): void {
  for (const m of members) {
    const peers = new Map<NodeId, string[]>();
    for (const other of members) if (other !== m) peers.set(other.id, [other.transport.listenPeerUrl()]);
    m.transport.setPeers(peers);
  }
}

/**
 * Registers the hooks of a suite of transport tests: mutual-TLS material for `count` members made
 * once (filled into `tls` before the first test), and every member pushed onto `running` stopped
 * after each test.
 */
export function memberFixture(count: number): { tls: PeerTlsConfig[]; running: TestMember[] } {
  const fixture = { tls: [] as PeerTlsConfig[], running: [] as TestMember[] };
  beforeAll(async () => {
    fixture.tls.push(...(await clusterTls(count)).members);
  });
  afterEach(async () => {
    await Promise.all(fixture.running.splice(0).map((m) => m.transport.stop()));
  });
  return fixture;
}
