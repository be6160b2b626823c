/**
 * probeClusterId: asks a peer URL which cluster it belongs to (GET /cairn/cluster over mutual TLS)
 * so a starting member refuses to join another cluster (etcd checks the remote cluster id the same
 * way before joining, etcdserver/cluster_util.go getClusterFromRemotePeers).
 */
import http2 from "node:http2";
import type { NodeId } from "../raft/types.ts";
import { MAX_PROBE_RESPONSE_BYTES } from "./limits.ts";
import { CLUSTER_ID_HEADER, CLUSTER_PATH, MEMBER_ID_HEADER } from "./protocol.ts";
import type { PeerTlsConfig } from "./types.ts";
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
 * Resolves the cluster id reported by the member at `peerUrl`, or null when it cannot be reached,
 * refuses the TLS handshake, answers anything but 200 with a `clusterId` string, or does not answer
 * within `timeoutMs`. Leaves no timer or socket behind once resolved.
 * @throws CairnError invalid_argument (synchronously) on a malformed peer URL
 */
export function probeClusterId(peerUrl: string, opts: ProbeOptions): Promise<string | null> {
  const { origin } = parsePeerUrl(peerUrl);
  return new Promise((resolve) => {
    let session: http2.ClientHttp2Session | null = null;
    let done = false;
    const finish = (clusterId: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (session !== null) {
        opts.inFlight.delete(session);
        session.destroy();
      }
      resolve(clusterId);
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
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        const clusterId = (body as { clusterId?: unknown } | null)?.clusterId;
        finish(typeof clusterId === "string" ? clusterId : null);
      } catch {
        finish(null);
      }
    });
    req.end();
  });
}
