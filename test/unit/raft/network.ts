/**
 * A small synchronous in-memory network of RaftCore instances for unit tests (after etcd-io/raft's
 * `network` in raft_test.go). Each node follows the Ready contract: persist (into a MemoryLog),
 * then send, then apply, then advance. Messages are delivered in FIFO order; filters drop them.
 */

import type { RaftConfig, RaftInitialState } from "../../../src/raft/core.ts";
import { decodeConfChangeEntry, RaftCore } from "../../../src/raft/core.ts";
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
  type Snapshot,
} from "../../../src/raft/types.ts";
import { seededRandom } from "../../../src/util/random.ts";

/** Member id `n` as 16 hex digits. */
export function nid(n: number): NodeId {
  return n.toString(16).padStart(16, "0");
}

/** Ids 1..n. */
export function ids(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => nid(i + 1));
}

/** Bytes of a string (proposal data). */
export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** String of bytes. */
export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/** Entries with the given terms at indexes start, start+1, ... (data "t<term>i<index>"). */
export function entries(terms: number[], start = 1): Entry[] {
  return terms.map((term, i) => ({ term, index: start + i, type: 0, data: bytes(`t${term}i${start + i}`) }));
}

/** Encodes a state machine made of applied entries (the test application's snapshot format). */
export function encodeSnapshot(applied: Entry[]): Uint8Array {
  return bytes(JSON.stringify(applied.map((e) => [e.index, e.term, text(e.data)])));
}

/** Decodes {@link encodeSnapshot}. */
export function decodeSnapshot(data: Uint8Array): Entry[] {
  const rows = JSON.parse(text(data)) as [number, number, string][];
  return rows.map(([index, term, d]) => ({ index, term, type: 0, data: bytes(d) }));
}

/** Durable state of one node, written the way the Ready contract says. */
export class MemoryLog {
  hardState: HardState | null = null;
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  /** Persists the parts of `rd` that must be durable before its messages leave. */
  persist(rd: Ready): void {
    if (rd.snapshot) {
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    if (rd.hardState) this.hardState = { ...rd.hardState };
    const first = rd.entries[0];
    if (first) {
      const base = this.snapshot?.metadata.index ?? 0;
      const keep = first.index - base - 1;
      if (keep < 0 || keep > this.entries.length) throw new Error(`MemoryLog: gap before ${first.index}`);
      this.entries = [...this.entries.slice(0, keep), ...rd.entries];
    }
  }

  /** Restart state. */
  initial(confState: ConfState): RaftInitialState {
    return {
      hardState: this.hardState,
      snapshot: this.snapshot,
      entries: [...this.entries],
      confState,
      applied: this.snapshot?.metadata.index ?? 0,
    };
  }
}

/** One node of the test network. */
export interface TestNode {
  id: NodeId;
  core: RaftCore;
  store: MemoryLog;
  /** Entries applied, in order (no-ops included). */
  applied: Entry[];
  /** Snapshots applied. */
  snapshots: Snapshot[];
  readStates: ReadState[];
  /** Every Ready handled, in order (for assertions about the contract). */
  readies: Ready[];
  /** Configuration after each applied ConfChange entry, in order. */
  confStates: ConfState[];
}

/** Options of a test node. */
export type NodeOptions = Partial<Omit<RaftConfig, "id">> & { initial?: Partial<RaftInitialState> };

/** Builds a RaftCore with test defaults (electionTick 10, heartbeatTick 1, seeded randomness). */
export function makeCore(id: NodeId, confState: ConfState, opts: NodeOptions = {}): RaftCore {
  const { initial, ...config } = opts;
  return new RaftCore(
    {
      electionTick: 10,
      heartbeatTick: 1,
      random: seededRandom(Number.parseInt(id, 16)),
      ...config,
      id,
    },
    { hardState: null, snapshot: null, entries: [], confState, applied: 0, ...initial },
  );
}

/** A synchronous network of RaftCore nodes. */
export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered. */
  queue: Message[] = [];
  /** Every message delivered or dropped, for inspection. */
  readonly log: Message[] = [];
  private readonly filters: ((m: Message) => boolean)[] = [];
  private readonly down = new Set<NodeId>();

  /**
   * @param confState voters and learners (every one becomes a node)
   * @param opts per-node options (by id) or common options
   */
  constructor(
    readonly confState: ConfState,
    opts: NodeOptions | ((id: NodeId) => NodeOptions) = {},
  ) {
    for (const id of [...confState.voters, ...confState.learners]) {
      const o = typeof opts === "function" ? opts(id) : opts;
      const store = new MemoryLog();
      store.hardState = o.initial?.hardState ?? null;
      store.snapshot = o.initial?.snapshot ?? null;
      store.entries = [...(o.initial?.entries ?? [])];
      this.add(id, makeCore(id, confState, o), store);
    }
  }

  /** Adds (or replaces) a node. */
  add(id: NodeId, core: RaftCore, store: MemoryLog): TestNode {
    const node: TestNode = {
      id,
      core,
      store,
      applied: [],
      snapshots: [],
      readStates: [],
      readies: [],
      confStates: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: NodeId): RaftCore {
    return this.node(id).core;
  }

  /** Drops every message for which `pred` is true (until {@link heal}). */
  drop(pred: (m: Message) => boolean): void {
    this.filters.push(pred);
  }

  /** Cuts `id` off from everyone. */
  isolate(id: NodeId): void {
    this.drop((m) => m.from === id || m.to === id);
  }

  /** Cuts the link between a and b both ways. */
  cut(a: NodeId, b: NodeId): void {
    this.drop((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a));
  }

  /** Removes every filter. */
  heal(): void {
    this.filters.length = 0;
  }

  /** Node stops: its messages and Ready are no longer processed, messages to it are dropped. */
  crash(id: NodeId): void {
    this.down.add(id);
  }

  /** Restarts a crashed node from its MemoryLog (unpersisted state is lost). */
  restart(id: NodeId, opts: NodeOptions = {}): TestNode {
    const old = this.node(id);
    this.down.delete(id);
    const core = makeCore(id, this.confState, { ...opts, initial: old.store.initial(this.confState) });
    const node = this.add(id, core, old.store);
    if (old.store.snapshot) node.applied = decodeSnapshot(old.store.snapshot.data);
    return node;
  }

  /**
   * Handles every Ready of `id` per the contract and returns the messages it sent (queued for
   * delivery unless `queue` is false).
   */
  handleReady(id: NodeId, queue = true): Message[] {
    const node = this.node(id);
    const out: Message[] = [];
    for (let i = 0; i < 100 && node.core.hasReady(); i++) {
      const rd = node.core.ready();
      node.readies.push(rd);
      node.store.persist(rd);
      out.push(...rd.messages);
      if (rd.snapshot) {
        node.snapshots.push(rd.snapshot);
        node.applied = decodeSnapshot(rd.snapshot.data);
      }
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.ConfChange)
          node.confStates.push(node.core.applyConfChange(decodeConfChangeEntry(e.data)));
      }
      node.applied.push(...rd.committedEntries);
      node.readStates.push(...rd.readStates);
      node.core.advance(rd);
    }
    if (queue) this.queue.push(...out);
    return out;
  }

  /** Steps `msgs` into their destinations (after filters), without handling Readies. */
  deliver(msgs: Message[]): void {
    for (const m of msgs) {
      this.log.push(m);
      if (this.down.has(m.to) || this.down.has(m.from)) continue;
      if (this.filters.some((f) => f(m))) continue;
      const target = this.nodes.get(m.to);
      if (target) target.core.step(m);
    }
  }

  /**
   * Handles Readies and delivers messages until nothing moves (bounded).
   * @throws Error if the network does not settle within `maxRounds`
   */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      for (const id of this.nodes.keys()) if (!this.down.has(id)) this.handleReady(id);
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      this.deliver(batch);
    }
    throw new Error("network did not stabilize");
  }

  /** Ticks `id` `n` times (handling nothing). */
  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).core.tick();
  }

  /** Ticks every live node once, then stabilizes. Repeats `n` times. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const [id, node] of this.nodes) if (!this.down.has(id)) node.core.tick();
      this.stabilize();
    }
  }

  /** Makes `id` campaign and stabilizes. */
  elect(id: NodeId): void {
    this.core(id).campaign();
    this.stabilize();
  }

  /** Proposes `data` on `id` and stabilizes. */
  propose(id: NodeId, ...data: string[]): void {
    this.core(id).propose(data.map(bytes));
    this.stabilize();
  }

  /**
   * Saves a snapshot of `id`'s state machine (its applied entries) at its applied index and hands
   * it to compact(), as an application does after applying.
   */
  compact(id: NodeId): Snapshot {
    const node = this.node(id);
    const st = node.core.status();
    const snapshot: Snapshot = {
      metadata: { index: st.applied, term: st.appliedTerm, confState: st.confState },
      data: encodeSnapshot(node.applied),
    };
    node.store.snapshot = snapshot;
    node.store.entries = node.store.entries.filter((e) => e.index > st.applied);
    node.core.compact(snapshot);
    return snapshot;
  }

  /** Data of the entries applied on `id` (no-ops skipped). */
  appliedData(id: NodeId): string[] {
    return this.node(id)
      .applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0)
      .map((e) => text(e.data));
  }
}
