/**
 * Data types of the pure Raft core, after etcd-io/raft (raftpb) and the Raft paper
 * (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", extended version;
 * §6.4 of Ongaro's thesis for ReadIndex).
 *
 * Ids of members are 16 lowercase hex digits (etcd prints member IDs this way); "" means none.
 * Indexes and terms are non-negative integers that fit a JS number (2^53 is far beyond any log).
 */

/** Member id: 16 lowercase hex digits, "" for none. */
export type NodeId = string;

/** Kind of a log entry. */
export const EntryType = {
  /** Application command (opaque bytes for the state machine); an empty one is the leader's no-op of its term. */
  Normal: 0,
  /** Membership change (data is an encoded ConfChange). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One log entry. `data` is opaque to Raft. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/**
 * The state Raft must persist before it answers any message (Raft paper Figure 2, "Persistent state
 * on all servers"), plus the commit index (etcd persists it too so a restart re-applies less).
 */
export interface HardState {
  term: number;
  /** Candidate voted for in `term`, "" if none. */
  vote: NodeId;
  commit: number;
}

/** Voters and learners of the cluster as of a log position. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/**
 * Kinds of single-member configuration change (Raft thesis §4.1, one server at a time; etcd-io/raft
 * ConfChangeAddNode / AddLearnerNode / RemoveNode). AddNode on an existing learner promotes it.
 */
export const ConfChangeType = {
  AddNode: "AddNode",
  AddLearnerNode: "AddLearnerNode",
  RemoveNode: "RemoveNode",
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/**
 * One membership change, the data of a ConfChange log entry. It takes effect when the entry is
 * applied (etcd's rule), and a leader accepts a new one only once the previous one is applied.
 * `context` is opaque to Raft (the server puts the member's name and peer URLs there).
 */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  context: Uint8Array;
}

/** Metadata of a snapshot: the last log entry it covers and the configuration at that point. */
export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

/** A snapshot of the state machine (opaque `data`) up to and including `metadata.index`. */
export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

/** Messages of the Raft protocol. Names follow etcd-io/raft's raftpb.MessageType. */
export const MessageType = {
  /** Local: election timeout elapsed, campaign. */
  Hup: "MsgHup",
  /** Local: leader's heartbeat tick. */
  Beat: "MsgBeat",
  /** Proposal; a follower forwards it to the leader. */
  Prop: "MsgProp",
  App: "MsgApp",
  AppResp: "MsgAppResp",
  Vote: "MsgVote",
  VoteResp: "MsgVoteResp",
  PreVote: "MsgPreVote",
  PreVoteResp: "MsgPreVoteResp",
  Snap: "MsgSnap",
  Heartbeat: "MsgHeartbeat",
  HeartbeatResp: "MsgHeartbeatResp",
  /** Local: transport could not reach the peer. */
  Unreachable: "MsgUnreachable",
  /** Local: result of sending a snapshot (reject = failed). */
  SnapStatus: "MsgSnapStatus",
  /** ReadIndex request (§6.4); a follower forwards it to the leader. */
  ReadIndex: "MsgReadIndex",
  ReadIndexResp: "MsgReadIndexResp",
  /** Leadership transfer: tells the target to campaign at once (thesis §3.10). */
  TimeoutNow: "MsgTimeoutNow",
  /** Local or forwarded to the leader: transfer leadership to the member whose id is the context (UTF-8). */
  TransferLeader: "MsgTransferLeader",
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * A Raft message. Fields unused by a type are left at their zero value. `context` carries the
 * ReadIndex request id (opaque bytes) on MsgReadIndex / MsgHeartbeat / MsgReadIndexResp.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** Term of the entry at `index` (MsgApp: the entry before `entries`; votes: candidate's last term). */
  logTerm: number;
  /** MsgApp: index before `entries`; MsgAppResp: last index accepted (or rejected index); votes: candidate's last index; MsgReadIndexResp: the read index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** On a rejected MsgAppResp: follower's hint of where logs may match (fast back-off). */
  rejectHint: number;
  snapshot?: Snapshot;
  context?: Uint8Array;
  /**
   * MsgApp only, set by the leader (absent means false): the append carries no entries, only the
   * commit index, to a follower in replicate state that has acknowledged every entry up to `index`.
   * A follower that accepts it sends no MsgAppResp, which would tell the leader nothing: its match
   * is known and an empty append takes no flow-control slot. A rejection is still answered. Not in
   * etcd-io/raft, whose followers answer every MsgApp; see Raft.maybeSendAppend for what it saves.
   */
  commitOnly?: boolean;
}

/** Role of a node. */
export type RaftRole = "follower" | "candidate" | "pre-candidate" | "leader";

/** Volatile state that the application may want to observe (leader, role). */
export interface SoftState {
  leader: NodeId;
  role: RaftRole;
}

/** Answer to a ReadIndex request: once the state machine has applied `index`, a read with `requestCtx` is linearizable. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/**
 * What the application must do next (etcd-io/raft Ready contract):
 * 1. persist `hardState` (if set), `entries` and `snapshot` (if set) durably;
 * 2. then send `messages` (messages must not go out before the state they depend on is on disk);
 * 3. apply `snapshot` (if set) then `committedEntries` in order;
 * 4. call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}
