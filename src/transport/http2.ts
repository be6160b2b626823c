/**
 * The peer transport of Cairn over HTTP/2 with mutual TLS (see src/transport/types.ts): one
 * {@link PeerServer} listener and one {@link PeerSender} per peer, each with its own session and
 * bounded queue, so a slow or dead peer never blocks the others (etcd rafthttp: one peer = one
 * streamWriter + snapshotSender).
 */
import type http2 from "node:http2";
import { createSecureContext } from "node:tls";
import { type Logger, pino } from "pino";
import { type Message, MessageType, type NodeId } from "../raft/types.ts";
import { assert } from "../util/assert.ts";
import { invalidArgument } from "../util/errors.ts";
import { MAX_PEER_QUEUE_MESSAGES } from "../util/limits.ts";
import { CodecError, checkMessage } from "./codec.ts";
import { failpointsFromEnv } from "./failpoints.ts";
import {
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_RECONNECT_MIN_MS,
  PROBE_TIMEOUT_MS,
  SNAPSHOT_IDLE_TIMEOUT_MS,
} from "./limits.ts";
import { PeerSender, type PeerStats } from "./peer.ts";
import { probePeer } from "./probe.ts";
import { PeerServer } from "./server.ts";
import type { SnapshotChunks, Transport, TransportOptions } from "./types.ts";
import { parsePeerUrl } from "./url.ts";

export type { PeerStats } from "./peer.ts";

/** Message types that never leave a node (etcd-io/raft local messages). */
const LOCAL_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set([
  MessageType.Hup,
  MessageType.Beat,
  MessageType.Unreachable,
  MessageType.SnapStatus,
]);

/** Tuning of the HTTP/2 transport beyond {@link TransportOptions}; every field has a default. */
export interface Http2TransportOptions extends TransportOptions {
  /** Longest wait for a connection to a peer (ms); default DEFAULT_DIAL_TIMEOUT_MS (1000). */
  dialTimeoutMs?: number;
  /** First reconnection back-off (ms); default DEFAULT_RECONNECT_MIN_MS (100). */
  reconnectMinMs?: number;
  /** Longest reconnection back-off (ms); default DEFAULT_RECONNECT_MAX_MS (2000). */
  reconnectMaxMs?: number;
  /** Interval of liveness PINGs on each peer session (ms); default DEFAULT_PING_INTERVAL_MS (2500). */
  pingIntervalMs?: number;
  /** Idle time after which a snapshot request is abandoned, both sides (ms); default SNAPSHOT_IDLE_TIMEOUT_MS (30000). */
  snapshotIdleTimeoutMs?: number;
}

/** The HTTP/2 transport, with introspection for tests, metrics and `endpoint status`. */
export interface Http2Transport extends Transport {
  /** The listen URL with the bound port (differs from the option when it asked for port 0). After start(). */
  listenPeerUrl(): string;
  /** Counters of each peer sender. */
  peerStats(): PeerStats[];
}

/**
 * Creates the transport; nothing is bound or dialled until start() / send(). From start() on, a
 * session and message stream to every peer are kept open, idle or not (etcd rafthttp does the same).
 * @throws CairnError invalid_argument when a URL is not https://host:port, maxQueueMessages is not
 *   a positive integer, or the TLS material does not load (bad PEM, key not matching the certificate)
 */
export function createHttp2Transport(options: Http2TransportOptions): Http2Transport {
  const opts = validated(options);
  const log: Logger = opts.logger ?? pino({ enabled: false });
  const listen = parsePeerUrl(opts.listenPeerUrl);
  const senders = new Map<NodeId, PeerSender>();
  const probes = new Set<http2.ClientHttp2Session>();
  let server: PeerServer | null = null;
  let stopped = false;
  // Test-only message drops (partitions); null unless CAIRN_TEST_FAILPOINTS_FILE is set (failpoints.ts).
  const failpoints = failpointsFromEnv(log);
  const snapshotIdleTimeoutMs = opts.snapshotIdleTimeoutMs ?? SNAPSHOT_IDLE_TIMEOUT_MS;

  /** Runs a user callback outside the caller's stack (no re-entrancy into Raft from send()). */
  const defer = (what: string, fn: () => void) => {
    queueMicrotask(() => {
      if (stopped) return;
      try {
        fn();
      } catch (err) {
        log.error({ err }, `${what} callback threw`);
      }
    });
  };

  const makeSender = (peer: NodeId, url: string) =>
    new PeerSender({
      peerId: peer,
      url,
      clusterId: opts.clusterId,
      memberId: opts.memberId,
      tls: opts.tls,
      maxQueueMessages: opts.maxQueueMessages ?? MAX_PEER_QUEUE_MESSAGES,
      dialTimeoutMs: opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
      reconnectMinMs: opts.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS,
      reconnectMaxMs: opts.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS,
      pingIntervalMs: opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      snapshotIdleTimeoutMs,
      logger: log,
      onUnreachable: () => defer("onUnreachable", () => opts.onUnreachable?.(peer)),
      onSnapshotSent: (ok) => defer("onSnapshotSent", () => opts.onSnapshotSent?.(peer, ok)),
      onRemoved: () => defer("onRemoved", () => opts.onRemoved?.()),
    });

  const setPeers = (peers: Map<NodeId, string[]>) => {
    if (stopped) return;
    const wanted = checkedPeers(peers, opts.memberId);
    for (const [peer, sender] of senders) {
      if (!wanted.has(peer)) {
        senders.delete(peer);
        void sender.close();
        log.info({ peer }, "peer removed");
      }
    }
    for (const [peer, url] of wanted) {
      const sender = senders.get(peer);
      if (sender === undefined) {
        const created = makeSender(peer, url);
        senders.set(peer, created);
        if (server !== null) created.keepOpen();
      } else sender.setUrl(url);
    }
  };
  setPeers(opts.peers);

  const probe = (peerUrl: string) => {
    if (stopped) return Promise.resolve(null);
    return probePeer(peerUrl, {
      clusterId: opts.clusterId,
      memberId: opts.memberId,
      tls: opts.tls,
      timeoutMs: PROBE_TIMEOUT_MS,
      inFlight: probes,
    });
  };

  /** False (logged) when `m` does not pass the codec's checks. */
  const wellFormed = (m: Message): boolean => {
    try {
      checkMessage(m);
      return true;
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      log.error({ err: err.message, type: m.type, to: m.to }, "malformed message; dropped");
      return false;
    }
  };

  /**
   * The sender of a message that may leave this member, or null when it is dropped: a local type, an
   * unknown peer, a failpoint, malformed, or a MsgSnap without a snapshot (a dropped MsgSnap is
   * reported failed).
   */
  const admit = (m: Message): PeerSender | null => {
    if (LOCAL_MESSAGE_TYPES.has(m.type)) {
      log.warn({ type: m.type, to: m.to }, "local message type handed to the transport; dropped");
      return null;
    }
    const sender = senders.get(m.to);
    // Normal for a moment after a member is removed (etcd logs it at debug too).
    if (sender === undefined) log.debug({ type: m.type, to: m.to }, "message to an unknown peer; dropped");
    else if (!failpoints?.dropsTo(m.to) && wellFormed(m)) {
      if (m.type !== MessageType.Snap || m.snapshot !== undefined) return sender;
      log.error({ to: m.to }, "MsgSnap without a snapshot; dropped");
    }
    if (m.type === MessageType.Snap) defer("onSnapshotSent", () => opts.onSnapshotSent?.(m.to, false));
    return null;
  };

  /** Wraps onSnapshot so that nothing reaches the owner after stop(). */
  const receiveSnapshot =
    (onSnapshot: NonNullable<TransportOptions["onSnapshot"]>) =>
    (message: Message, data: AsyncIterable<Uint8Array>): Promise<void> =>
      stopped ? Promise.reject(new Error("peer transport stopped")) : onSnapshot(message, data);

  const listenPeerUrl = () => {
    assert(server !== null, "transport not started");
    const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
    return `https://${host}:${server.port()}`;
  };

  return {
    async start() {
      assert(server === null && !stopped, "transport started twice or after stop");
      server = new PeerServer({
        clusterId: opts.clusterId,
        memberId: opts.memberId,
        tls: opts.tls,
        host: listen.host,
        port: listen.port,
        logger: log,
        members: opts.members ?? (() => []),
        isRemovedMember: opts.isRemovedMember ?? (() => false),
        snapshotIdleTimeoutMs,
        ...(failpoints && { dropFrom: (peer: NodeId) => failpoints.dropsFrom(peer) }),
        onMessage: (message) => {
          if (!stopped) opts.onMessage(message);
        },
        ...(opts.onSnapshot && { onSnapshot: receiveSnapshot(opts.onSnapshot) }),
      });
      await server.start();
      log.info({ url: listenPeerUrl() }, "peer transport listening");
      // Every peer's stream is kept open from now on, idle or not (peer.ts keepOpen).
      for (const sender of senders.values()) sender.keepOpen();
    },

    send(messages: Message[]) {
      if (stopped) return;
      for (const m of messages) {
        const sender = admit(m);
        if (sender === null) continue;
        if (m.type === MessageType.Snap && m.snapshot !== undefined) {
          // Inline state: streamed in chunks like any other (the sender slices it).
          const inline = m.snapshot.data;
          sender.sendSnapshot({ ...m, snapshot: { ...m.snapshot, data: new Uint8Array(0) } }, () => [inline]);
          continue;
        }
        sender.queueMessage(m);
      }
      // Every peer's messages of this call go out together (one frame each when they fit).
      for (const sender of senders.values()) sender.flush();
    },

    sendSnapshot(message: Message, data: () => SnapshotChunks) {
      assert(
        message.type === MessageType.Snap && message.snapshot?.data.byteLength === 0,
        "sendSnapshot takes a MsgSnap whose snapshot.data is empty",
      );
      if (stopped) return;
      admit(message)?.sendSnapshot(message, data);
    },

    setPeers,

    async probeClusterId(peerUrl: string) {
      return (await probe(peerUrl))?.clusterId ?? null;
    },

    probePeer: (peerUrl: string) => probe(peerUrl),

    async stop() {
      if (stopped) return;
      stopped = true;
      failpoints?.close();
      for (const session of probes) session.destroy();
      probes.clear();
      const closing = [...senders.values()].map((s) => s.close());
      senders.clear();
      if (server !== null) closing.push(server.close());
      await Promise.all(closing);
      log.info("peer transport stopped");
    },

    listenPeerUrl,

    peerStats() {
      return [...senders.values()].map((s) => s.stats());
    },
  };
}

function validated(opts: Http2TransportOptions): Http2TransportOptions {
  const max = opts.maxQueueMessages;
  if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) {
    throw invalidArgument(`maxQueueMessages must be a positive integer, got ${max}`);
  }
  const durations = [
    "dialTimeoutMs",
    "reconnectMinMs",
    "reconnectMaxMs",
    "pingIntervalMs",
    "snapshotIdleTimeoutMs",
  ] as const;
  for (const name of durations) {
    const v = opts[name];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
      throw invalidArgument(`${name} must be a positive integer of ms, got ${v}`);
    }
  }
  try {
    createSecureContext({ cert: opts.tls.certPem, key: opts.tls.keyPem, ca: opts.tls.caPem });
  } catch (err) {
    throw invalidArgument(`peer TLS material does not load: ${(err as Error).message}`);
  }
  return opts;
}

/** Peer id → first URL, excluding this member; validates the URLs. */
function checkedPeers(peers: Map<NodeId, string[]>, self: NodeId): Map<NodeId, string> {
  const out = new Map<NodeId, string>();
  for (const [peer, urls] of peers) {
    if (peer === self) continue;
    const url = urls[0];
    if (url === undefined) throw invalidArgument(`peer ${peer} has no peer URL`);
    parsePeerUrl(url);
    out.set(peer, url);
  }
  return out;
}
