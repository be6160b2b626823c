/**
 * The snapshots of one member, none of which is ever held whole in memory (a state of 1 GiB never
 * needs a 1 GiB buffer):
 *
 * - Local snapshots (every --snapshot-count applied entries) are written in the background: a
 *   frozen reader of the applied state (ReplicatedState.snapshotReader) is streamed frame by frame
 *   into a staged snapshot file while entries go on being applied; the ready loop then saves the
 *   staged file (a rename) and compacts Raft's log and the WAL (node.ts, commitLocalSnapshot).
 * - A follower that needs a snapshot is sent the state applied now (not the stored snapshot: that
 *   may predate the follower's own addition to the cluster, and a member refuses a snapshot whose
 *   configuration lacks it; etcd sends its current db the same way, createMergedSnapshotMessage),
 *   streamed from a frozen reader straight into the peer request.
 * - A snapshot received from the leader is staged to a file as it arrives, before its MsgSnap is
 *   handed to Raft (etcd saves the received db before raft sees the message); when Raft accepts it,
 *   the ready loop saves the staged file and restores the state by reading it back in chunks.
 */
import type { Logger } from "pino";
import type { Message, NodeId, SnapshotMetadata } from "../raft/types.ts";
import type { RaftStorage, StagedSnapshot } from "../storage/types.ts";
import type { Transport } from "../transport/types.ts";
import type { ReplicatedState } from "./state-machine.ts";

/** Snapshot data staged from leaders and not yet saved, at most (older ones are discarded). */
const MAX_RECEIVED_STAGED = 4;

const EMPTY = new Uint8Array(0);

/** A background local snapshot: writing, or written and waiting for the ready loop to save it. */
interface LocalSnapshot {
  metadata: SnapshotMetadata;
  staged: StagedSnapshot | null;
}

/** What the keeper needs from its node. */
export interface SnapshotKeeperDeps {
  storage: RaftStorage;
  state: ReplicatedState;
  logger: Logger;
  /** Runs the ready loop soon (a staged local snapshot is ready to save). */
  schedule: () => void;
}

/** Snapshot bookkeeping of one member (see the module comment). */
export class SnapshotKeeper {
  private local: LocalSnapshot | null = null;
  /** Open state readers of snapshots being sent, by peer (one in flight per peer). */
  private readonly sending = new Map<NodeId, () => void>();
  /** Snapshots staged from leaders' MsgSnap, oldest first. */
  private received: StagedSnapshot[] = [];
  private closed = false;

  constructor(private readonly deps: SnapshotKeeperDeps) {}

  /** True when a local snapshot is written and waits for the ready loop to save it ({@link takeLocal}). */
  get localWritten(): boolean {
    return this.local?.staged != null;
  }

  /**
   * Starts writing a snapshot of the state applied now, described by `metadata` (index, term and
   * configuration of the applied state), unless one is already under way. Failures are logged (the
   * next trigger tries again).
   */
  startLocal(metadata: SnapshotMetadata): void {
    if (this.local !== null || this.closed) return;
    const local: LocalSnapshot = { metadata, staged: null };
    this.local = local;
    const reader = this.deps.state.snapshotReader();
    this.deps.storage.stageSnapshot(metadata, reader.frames, true).then(
      (staged) => {
        if (this.closed) {
          void this.deps.storage.discardStaged(staged).catch(() => undefined);
          return;
        }
        local.staged = staged;
        this.deps.schedule();
      },
      (err: unknown) => {
        reader.close();
        if (this.local === local) this.local = null;
        if (!this.closed) this.deps.logger.error({ err, index: metadata.index }, "writing a snapshot failed");
      },
    );
  }

  /** The written local snapshot, handed over once to be saved (or discarded); null if none is ready. */
  takeLocal(): StagedSnapshot | null {
    const staged = this.local?.staged ?? null;
    if (staged !== null) this.local = null;
    return staged;
  }

  /**
   * Sends `message` (a MsgSnap) with a snapshot of the state applied now (`metadata`), streamed from
   * a frozen reader while the state goes on changing. One send per peer at a time: another one is
   * reported failed through `fail`.
   */
  send(
    transport: Transport,
    message: Message,
    metadata: SnapshotMetadata,
    fail: (peer: NodeId) => void,
  ): void {
    if (this.sending.has(message.to) || this.closed) {
      fail(message.to);
      return;
    }
    const reader = this.deps.state.snapshotReader();
    this.sending.set(message.to, () => reader.close());
    transport.sendSnapshot({ ...message, snapshot: { metadata, data: EMPTY } }, () => reader.frames);
  }

  /** The transport reported the outcome of the snapshot sent to `peer`: release its reader. */
  sendFinished(peer: NodeId): void {
    const close = this.sending.get(peer);
    this.sending.delete(peer);
    close?.();
  }

  /** Releases the readers of snapshots being sent to members no longer in `peers` (their outcome never comes). */
  forgetPeersExcept(peers: ReadonlySet<NodeId>): void {
    for (const peer of [...this.sending.keys()]) if (!peers.has(peer)) this.sendFinished(peer);
  }

  /**
   * Stages the data of a snapshot received from a leader (read from `data` chunk by chunk) so
   * that Raft may accept its MsgSnap. Older staged snapshots beyond MAX_RECEIVED_STAGED are dropped.
   * @throws whatever reading `data` or writing it throws (a truncated or corrupt stream)
   */
  async receive(metadata: SnapshotMetadata, data: AsyncIterable<Uint8Array>): Promise<void> {
    const staged = await this.deps.storage.stageSnapshot(metadata, data);
    if (this.closed) {
      await this.deps.storage.discardStaged(staged);
      return;
    }
    this.received.push(staged);
    while (this.received.length > MAX_RECEIVED_STAGED) await this.discard(this.received.shift()!);
  }

  /**
   * The staged data of the snapshot Raft accepted (`metadata`), taken out; every staged snapshot no
   * newer than it is discarded.
   * @returns it, or undefined when none was staged with that index and term
   */
  async takeReceived(metadata: SnapshotMetadata): Promise<StagedSnapshot | undefined> {
    const i = this.received.findIndex(
      (s) => s.metadata.index === metadata.index && s.metadata.term === metadata.term,
    );
    const found = i < 0 ? undefined : this.received.splice(i, 1)[0];
    const stale = this.received.filter((s) => s.metadata.index <= metadata.index);
    this.received = this.received.filter((s) => s.metadata.index > metadata.index);
    for (const s of stale) await this.discard(s);
    return found;
  }

  /** Restores the state from the stored snapshot, read in chunks. @returns its metadata, or null without one */
  async restoreFromStorage(): Promise<SnapshotMetadata | null> {
    const reader = this.deps.storage.readSnapshotData();
    if (reader === null) return null;
    await this.deps.state.restoreFrom(reader.chunks);
    return reader.metadata;
  }

  /** Releases every reader; staged files are discarded (a restart removes any left). */
  close(): void {
    this.closed = true;
    const local = this.local?.staged;
    this.local = null;
    if (local) void this.discard(local);
    for (const close of this.sending.values()) close();
    this.sending.clear();
    const received = this.received;
    this.received = [];
    for (const s of received) void this.discard(s);
  }

  private async discard(staged: StagedSnapshot): Promise<void> {
    await this.deps.storage.discardStaged(staged).catch((err: unknown) => {
      this.deps.logger.warn({ err }, "could not remove a staged snapshot");
    });
  }
}
