/**
 * Assembly of one `cairn serve` process: data dir and its identity check, file storage, the
 * Raft node, the mutual-TLS peer transport and the client API listeners.
 */
import { readFile } from "node:fs/promises";
import type http2 from "node:http2";
import pino, { type Logger } from "pino";
import { createApp } from "../api/app.ts";
import { openFileStorage } from "../storage/file/index.ts";
import { createHttp2Transport } from "../transport/http2.ts";
import { probePeer } from "../transport/probe.ts";
import type { PeerTlsConfig, Transport } from "../transport/types.ts";
import { CAIRN_VERSION } from "../version.ts";
import { type ClientListener, listenClient } from "./client-listener.ts";
import type { ServeConfig } from "./config.ts";
import { CairnNode } from "./node.ts";

/** Startup refused for a reason the operator must fix (message says what and how). */
export class StartupError extends Error {
  override name = "StartupError";
}

/** Longest wait for a peer's member list when joining a running cluster (ms). */
const JOIN_PROBE_TIMEOUT_MS = 5_000;

/**
 * A running server. `close()` stops listeners, the node and the transport, in that order; with
 * `transferLeadership` a leader hands leadership over first (graceful stop on SIGTERM).
 */
export interface RunningServer {
  node: CairnNode;
  transport: Transport;
  clientListeners: ClientListener[];
  logger: Logger;
  /** Resolves, with a message for the operator, once this member was removed from the cluster and recorded it. */
  removed: Promise<string>;
  close(opts?: { transferLeadership?: boolean }): Promise<void>;
}

/**
 * Starts one member as configured. A new data dir with --initial-cluster-state new bootstraps the
 * cluster of --initial-cluster; with existing, the member asks the peers of --initial-cluster for
 * the running cluster's member list, finds itself there by its peer URLs (added beforehand with
 * `cairn member add`) and joins with the id the cluster gave it (etcd: join an existing cluster).
 * @throws StartupError when the data dir belongs to another cluster or member or to a removed
 *   member, when a peer answers with another cluster id, or when --initial-cluster-state does not
 *   fit the data dir and the cluster (the message says which and what to do)
 * @throws StorageCorruptError when the WAL is corrupt before its tail
 */
export async function startServer(config: ServeConfig, logger?: Logger): Promise<RunningServer> {
  // Logs go to stderr, as etcd's do; stdout stays free for output meant for people.
  const log = logger ?? pino({ level: config.logLevel, base: { member: config.name } }, pino.destination(2));
  const storage = await openFileStorage(config.dataDir, { logger: log });
  let transport: Transport | null = null;
  let node: CairnNode | null = null;
  try {
    const [certPem, keyPem, caPem] = await Promise.all(
      [config.peerCertFile, config.peerKeyFile, config.peerTrustedCaFile].map((f) => readFile(f, "utf8")),
    );
    const tls = { certPem: certPem!, keyPem: keyPem!, caPem: caPem! };
    const identity = await resolveIdentity(config, storage, tls);
    // A joining member reaches the members the running cluster listed (ids given by the cluster,
    // not derived from --initial-cluster); others start from the flags, then follow the log.
    const known = identity.members ?? config.members;
    const peers = new Map(
      known.filter((m) => m.id !== identity.memberId).map((m) => [m.id, m.peerUrls] as const),
    );
    transport = createHttp2Transport({
      clusterId: identity.clusterId,
      memberId: identity.memberId,
      listenPeerUrl: config.listenPeerUrls[0]!,
      tls,
      peers,
      onMessage: (m) => node?.step(m),
      onSnapshot: (m, data) =>
        node ? node.receiveSnapshot(m, data) : Promise.reject(new Error("the member is not started yet")),
      onUnreachable: (p) => node?.reportUnreachable(p),
      onSnapshotSent: (p, ok) => node?.reportSnapshot(p, ok),
      members: () => node?.peerMembers() ?? [],
      isRemovedMember: (id) => node?.isRemovedMember(id) ?? false,
      onRemoved: () => node?.reportRemoved(),
      logger: log,
    });
    if (!identity.joining)
      await checkPeersCluster(config, identity.clusterId, transport, [...peers.values()].flat());
    await transport.start();
    node = await CairnNode.start({
      memberId: identity.memberId,
      clusterId: identity.clusterId,
      name: config.name,
      initialMembers: config.members,
      joining: identity.joining,
      clientUrls: config.advertiseClientUrls,
      storage,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      electionTimeoutMs: config.electionTimeoutMs,
      snapshotCount: config.snapshotCount,
      snapshotCatchUpEntries: config.snapshotCatchUpEntries,
      autoCompaction: config.autoCompaction,
      logger: log,
      version: CAIRN_VERSION,
    });
    node.setTransport(transport);
    const startedNode = node;
    const removed = new Promise<string>((resolve) => {
      startedNode.once("removed", () => {
        // Remember for good: this data dir must never rejoin (etcd refuses a removed member too).
        const meta = { clusterId: identity.clusterId, memberId: identity.memberId, name: config.name };
        storage
          .writeMetadata({ ...meta, removed: true })
          .catch((err: unknown) => log.error({ err }, "could not record the removal in the data dir"))
          .finally(() =>
            resolve(
              `this member (${identity.memberId}) was removed from cluster ${identity.clusterId}; it stops and will ` +
                "not rejoin from this data dir. To bring the machine back, add it again with `cairn member add` and " +
                "start it with an empty --data-dir and --initial-cluster-state existing.",
            ),
          );
      });
    });
    const app = createApp({
      kv: node,
      cluster: node,
      maxRequestBytes: config.maxRequestBytes,
      version: CAIRN_VERSION,
      logger: log,
    });
    const clientListeners = await Promise.all(config.listenClientUrls.map((u) => listenClient(app, u)));
    log.info(
      { memberId: identity.memberId, clusterId: identity.clusterId, clientUrls: config.listenClientUrls },
      "cairn member serving",
    );
    const running: RunningServer = {
      node,
      transport,
      clientListeners,
      logger: log,
      removed,
      close: async (opts = {}) => {
        // A leader hands over first, while its peers are still connected (no election gap).
        if (opts.transferLeadership) await running.node.handOverLeadershipBeforeStop();
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

/** Who this member is in which cluster, and whether it joins a running cluster with an empty data dir. */
interface Identity {
  clusterId: string;
  memberId: string;
  joining: boolean;
  /** For a joining member: the running cluster's members as a peer reported them. */
  members?: { id: string; peerUrls: string[] }[];
}

/**
 * The data dir's identity, checked against the flags; for a new data dir, the identity from the
 * flags (new) or from the running cluster (existing), recorded in the data dir.
 */
async function resolveIdentity(
  config: ServeConfig,
  storage: Awaited<ReturnType<typeof openFileStorage>>,
  tls: PeerTlsConfig,
): Promise<Identity> {
  const meta = await storage.readMetadata();
  if (meta) {
    if (meta.removed) {
      throw new StartupError(
        `data dir ${config.dataDir} belongs to member ${meta.memberId} (${meta.name}), which was removed from cluster ` +
          `${meta.clusterId}; a removed member never rejoins from its old data. To bring this machine back, add it ` +
          "with `cairn member add`, then start it with an empty --data-dir and --initial-cluster-state existing.",
      );
    }
    // The data dir is authoritative once it exists (etcd ignores --initial-cluster then): the
    // member list may have changed at runtime. The member itself must be the same: its id derives
    // from the token and its peer URLs, except for a member that joined at runtime (id given by
    // the cluster, started with --initial-cluster-state existing).
    const sameMember = meta.memberId === config.memberId;
    if (!sameMember && config.initialClusterState !== "existing") {
      throw new StartupError(
        `data dir ${config.dataDir} belongs to cluster ${meta.clusterId} as member ${meta.memberId} (${meta.name}), ` +
          `but the flags describe this member as ${config.memberId} of cluster ${config.clusterId}. ` +
          "Check --initial-cluster-token, --initial-cluster and --initial-advertise-peer-urls, or use another --data-dir.",
      );
    }
    return { clusterId: meta.clusterId, memberId: meta.memberId, joining: false };
  }
  if (config.initialClusterState === "new") {
    await storage.writeMetadata({
      clusterId: config.clusterId,
      memberId: config.memberId,
      name: config.name,
    });
    return { clusterId: config.clusterId, memberId: config.memberId, joining: false };
  }
  const found = await findSelfInRunningCluster(config, tls);
  await storage.writeMetadata({ clusterId: found.clusterId, memberId: found.memberId, name: config.name });
  return { ...found, joining: true };
}

/**
 * --initial-cluster-state existing with an empty data dir: asks the other peers of
 * --initial-cluster for the running cluster and finds this member there by its peer URLs.
 * @throws StartupError when no peer answers, or the cluster has no member with these peer URLs
 */
async function findSelfInRunningCluster(
  config: ServeConfig,
  tls: PeerTlsConfig,
): Promise<{ clusterId: string; memberId: string; members: { id: string; peerUrls: string[] }[] }> {
  const own = new Set(config.initialAdvertisePeerUrls);
  const urls = config.members.flatMap((m) => m.peerUrls).filter((u) => !own.has(u));
  const inFlight = new Set<http2.ClientHttp2Session>();
  const answers = await Promise.all(
    urls.map((url) =>
      probePeer(url, {
        clusterId: config.clusterId,
        memberId: config.memberId,
        tls,
        timeoutMs: JOIN_PROBE_TIMEOUT_MS,
        inFlight,
      }),
    ),
  );
  const info = answers.find((a) => a !== null && a.members.length > 0);
  if (!info) {
    throw new StartupError(
      `--initial-cluster-state is "existing" but no peer of --initial-cluster answered (${urls.join(", ") || "none listed"}). ` +
        "Start this member once the cluster runs, or, to create a new cluster, use --initial-cluster-state new.",
    );
  }
  const self = info.members.find((m) => m.peerUrls.some((u) => own.has(u)));
  if (!self) {
    throw new StartupError(
      `cluster ${info.clusterId} has no member with peer URLs ${[...own].join(",")} ` +
        `(its members: ${info.members.map((m) => `${m.id}=${m.peerUrls.join(",")}`).join(" ")}). ` +
        `Add this member first: cairn member add ${config.name} --peer-urls ${[...own].join(",")}`,
    );
  }
  return { clusterId: info.clusterId, memberId: self.id, members: info.members };
}

/** A peer that answers with another cluster id means the flags point at another cluster: refuse. */
async function checkPeersCluster(
  config: ServeConfig,
  clusterId: string,
  transport: Transport,
  peerUrls: string[],
): Promise<void> {
  const answers = await Promise.all(
    peerUrls.map(async (url) => ({ url, info: await transport.probePeer(url) })),
  );
  const foreign = answers.find((a) => a.info !== null && a.info.clusterId !== clusterId);
  if (!foreign?.info) return;
  const own = new Set(config.initialAdvertisePeerUrls);
  const addedThere = foreign.info.members.some((m) => m.peerUrls.some((u) => own.has(u)));
  if (addedThere) {
    throw new StartupError(
      `peer ${foreign.url} belongs to running cluster ${foreign.info.clusterId}, where this member was added at runtime: ` +
        "start it with --initial-cluster-state existing (and an empty --data-dir) to join it.",
    );
  }
  throw new StartupError(
    `peer ${foreign.url} belongs to another cluster (${foreign.info.clusterId}), not to cluster ${clusterId} ` +
      "described by --initial-cluster and --initial-cluster-token. Use the same token and member list on every member.",
  );
}
