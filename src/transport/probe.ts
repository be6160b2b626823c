/**
 * probePeer: asks a peer URL which cluster it belongs to and which members that cluster has
 * (GET /cairn/cluster over mutual TLS), so a starting member refuses to join another cluster and a
 * joining member learns its id (etcd etcdserver/cluster_util.go getClusterFromRemotePeers).
 */
import http2 from "node:http2";
import type { NodeId } from "../raft/types.ts";
import { MAX_PROBE_RESPONSE_BYTES } from "./limits.ts";
import { CLUSTER_ID_HEADER, CLUSTER_PATH, MEMBER_ID_HEADER } from "./protocol.ts";
import type { PeerClusterInfo, PeerMember, PeerTlsConfig } from "./types.ts";
import { parsePeerUrl } from "./url.ts";

/** Who is asking, and how. */
export interface ProbeOptions {
  clusterId: string;
  memberId: NodeId;
  tls: PeerTlsConfig;
  /** Longest wait for the answer (ms) before resolving null. */
  timeoutMs: number;
  /** Sessions in flight, so the owner can destroy them on stop; the probe removes its own when done. */
  inFlight: Set<http2.ClientHttp2Session>;
}

/**
 * Resolves what the member at `peerUrl` reports, or null when it cannot be reached, refuses the TLS
 * handshake, answers anything but 200 with a `clusterId` string, or does not answer within
 * `timeoutMs`. Leaves no timer or socket behind once resolved.
 * @throws CairnError invalid_argument (synchronously) on a malformed peer URL
 */
export function probePeer(peerUrl: string, opts: ProbeOptions): Promise<PeerClusterInfo | null> {
  const { origin } = parsePeerUrl(peerUrl);
  return new Promise((resolve) => {
    let session: http2.ClientHttp2Session | null = null;
    let done = false;
    const finish = (info: PeerClusterInfo | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (session !== null) {
        opts.inFlight.delete(session);
        session.destroy();
      }
      resolve(info);
    };
    const timer = setTimeout(() => finish(null), opts.timeoutMs);
    try {
      session = http2.connect(origin, { ca: opts.tls.caPem, cert: opts.tls.certPem, key: opts.tls.keyPem });
    } catch {
      finish(null);
      return;
    }
    opts.inFlight.add(session);
    session.on("error", () => finish(null));
    session.once("close", () => finish(null));
    const req = session.request({
      ":method": "GET",
      ":path": CLUSTER_PATH,
      [CLUSTER_ID_HEADER]: opts.clusterId,
      [MEMBER_ID_HEADER]: opts.memberId,
    });
    let status = 0;
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (bytes > MAX_PROBE_RESPONSE_BYTES) finish(null);
      else chunks.push(chunk);
    });
    req.on("error", () => finish(null));
    req.once("end", () => {
      if (status !== 200) return finish(null);
      try {
        finish(parseClusterInfo(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      } catch {
        finish(null);
      }
    });
    req.end();
  });
}

/** The checked shape of a GET /cairn/cluster answer, or null when it is not one. */
function parseClusterInfo(body: unknown): PeerClusterInfo | null {
  const b = body as { clusterId?: unknown; memberId?: unknown; members?: unknown } | null;
  if (typeof b?.clusterId !== "string") return null;
  const members: PeerMember[] = [];
  for (const m of Array.isArray(b.members) ? b.members : []) {
    const r = m as Partial<PeerMember> | null;
    if (typeof r?.id !== "string" || !Array.isArray(r.peerUrls)) continue;
    members.push({
      id: r.id,
      name: typeof r.name === "string" ? r.name : "",
      peerUrls: r.peerUrls.filter((u): u is string => typeof u === "string"),
      isLearner: r.isLearner === true,
    });
  }
  return { clusterId: b.clusterId, memberId: typeof b.memberId === "string" ? b.memberId : "", members };
}
