/**
 * Assembly of one `cairn serve` process: data dir and its identity check, file storage, the
 * Raft node, the mutual-TLS peer transport and the client API listeners.
 */
import { readFile } from "node:fs/promises";
import pino, { type Logger } from "pino";
import { createApp } from "../api/app.ts";
import { openFileStorage } from "../storage/file/index.ts";
import { createHttp2Transport } from "../transport/http2.ts";
import type { Transport } from "../transport/types.ts";
import { CAIRN_VERSION } from "../version.ts";
import { type ClientListener, listenClient } from "./client-listener.ts";
import type { ServeConfig } from "./config.ts";
import { CairnNode } from "./node.ts";

/** Startup refused for a reason the operator must fix (message says what and how). */
export class StartupError extends Error {
  override name = "StartupError";
}

/** A running server. `close()` stops listeners, the node and the transport, in that order. */
export interface RunningServer {
  node: CairnNode;
  transport: Transport;
  clientListeners: ClientListener[];
  logger: Logger;
  close(): Promise<void>;
}

/**
 * Starts one member as configured.
 * @throws StartupError when the data dir belongs to another cluster or member, when a peer
 *   answers with another cluster id, or when --initial-cluster-state is inconsistent with the data dir
 * @throws StorageCorruptError when the WAL is corrupt before its tail
 */
export async function startServer(config: ServeConfig, logger?: Logger): Promise<RunningServer> {
  // Logs go to stderr, as etcd's do; stdout stays free for output meant for people.
  const log = logger ?? pino({ level: config.logLevel, base: { member: config.name } }, pino.destination(2));
  const storage = await openFileStorage(config.dataDir, { logger: log });
  let transport: Transport | null = null;
  let node: CairnNode | null = null;
  try {
    await checkDataDirIdentity(config, storage);
    const [certPem, keyPem, caPem] = await Promise.all(
      [config.peerCertFile, config.peerKeyFile, config.peerTrustedCaFile].map((f) => readFile(f, "utf8")),
    );
    const peers = new Map(
      config.members.filter((m) => m.id !== config.memberId).map((m) => [m.id, m.peerUrls] as const),
    );
    transport = createHttp2Transport({
      clusterId: config.clusterId,
      memberId: config.memberId,
      listenPeerUrl: config.listenPeerUrls[0]!,
      tls: { certPem: certPem!, keyPem: keyPem!, caPem: caPem! },
      peers,
      onMessage: (m) => node?.step(m),
      onUnreachable: (p) => node?.reportUnreachable(p),
      onSnapshotSent: (p, ok) => node?.reportSnapshot(p, ok),
      logger: log,
    });
    await checkPeersCluster(config, transport, [...peers.values()].flat());
    await transport.start();
    node = await CairnNode.start({
      memberId: config.memberId,
      clusterId: config.clusterId,
      name: config.name,
      initialMembers: config.members,
      clientUrls: config.advertiseClientUrls,
      storage,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      electionTimeoutMs: config.electionTimeoutMs,
      snapshotCount: config.snapshotCount,
      snapshotCatchUpEntries: config.snapshotCatchUpEntries,
      logger: log,
      version: CAIRN_VERSION,
    });
    node.setTransport(transport);
    const app = createApp({
      kv: node,
      maxRequestBytes: config.maxRequestBytes,
      version: CAIRN_VERSION,
      logger: log,
    });
    const clientListeners = await Promise.all(config.listenClientUrls.map((u) => listenClient(app, u)));
    log.info(
      { memberId: config.memberId, clusterId: config.clusterId, clientUrls: config.listenClientUrls },
      "cairn member serving",
    );
    const running: RunningServer = {
      node,
      transport,
      clientListeners,
      logger: log,
      close: async () => {
        await Promise.all(clientListeners.map((l) => l.close()));
        await running.node.stop();
        await running.transport.stop();
      },
    };
    return running;
  } catch (err) {
    if (node) await node.stop();
    else await storage.close();
    if (transport) await transport.stop();
    throw err;
  }
}

/** etcd refuses a data dir of another cluster or member; so does Cairn, in plain words. */
async function checkDataDirIdentity(
  config: ServeConfig,
  storage: Awaited<ReturnType<typeof openFileStorage>>,
): Promise<void> {
  const meta = await storage.readMetadata();
  if (meta) {
    if (meta.clusterId !== config.clusterId || meta.memberId !== config.memberId) {
      throw new StartupError(
        `data dir ${config.dataDir} belongs to cluster ${meta.clusterId} as member ${meta.memberId} (${meta.name}), ` +
          `but the flags describe cluster ${config.clusterId} with this member as ${config.memberId}. ` +
          "Check --initial-cluster-token, --initial-cluster and --initial-advertise-peer-urls, or use another --data-dir.",
      );
    }
    return;
  }
  if (config.initialClusterState === "existing") {
    throw new StartupError(
      `data dir ${config.dataDir} is empty and --initial-cluster-state is "existing": this member has no data ` +
        "of the cluster to rejoin. Start a new cluster with --initial-cluster-state new (adding members to a running " +
        "cluster comes with runtime membership changes).",
    );
  }
  await storage.writeMetadata({ clusterId: config.clusterId, memberId: config.memberId, name: config.name });
}

/** A peer that answers with another cluster id means the flags point at another cluster: refuse. */
async function checkPeersCluster(
  config: ServeConfig,
  transport: Transport,
  peerUrls: string[],
): Promise<void> {
  const answers = await Promise.all(
    peerUrls.map(async (url) => ({ url, id: await transport.probeClusterId(url) })),
  );
  const foreign = answers.find((a) => a.id !== null && a.id !== config.clusterId);
  if (foreign) {
    throw new StartupError(
      `peer ${foreign.url} belongs to another cluster (${foreign.id}), not to cluster ${config.clusterId} ` +
        "described by --initial-cluster and --initial-cluster-token. Use the same token and member list on every member.",
    );
  }
}
