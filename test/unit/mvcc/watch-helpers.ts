/**
 * Shared rig of the watch tests: a KvStore and its WatchHub wired as the node wires them
 * (applyWithEvents → publish), readable summaries of messages, and a seeded random history
 * with the events a brute-force model expects.
 */
import { KvStore } from "../../../src/mvcc/store.ts";
import type { Command, WatchEvent } from "../../../src/mvcc/types.ts";
import { WatchHub, type WatchHubOptions } from "../../../src/mvcc/watch-hub.ts";
import type { WatchRequest } from "../../../src/mvcc/watch-request.ts";
import type { WatchMessage, WatchStream } from "../../../src/mvcc/watcher.ts";
import { b, op, str } from "./helpers.ts";

/** A store and its hub. */
export class WatchRig {
  readonly store = new KvStore();
  readonly hub: WatchHub;
  /** The brute-force model of randomHistory: key → value and mod revision. */
  readonly model = new Map<string, { value: string; mod: number }>();

  constructor(opts: Partial<WatchHubOptions> = {}) {
    this.hub = new WatchHub(this.store, opts);
  }

  /** Applies a command and feeds the hub, as CairnNode.applyEntry does. */
  apply(cmd: Command): void {
    const { events } = this.store.applyWithEvents(cmd);
    if (events.length > 0) this.hub.publish(this.store.revision, events);
  }

  put(key: string, value: string): number {
    this.apply({ op: "put", req: { key: b(key), value: b(value) } });
    return this.store.revision;
  }

  del(key: string, end?: string): number {
    this.apply({
      op: "deleteRange",
      req: end === undefined ? { key: b(key) } : { key: b(key), rangeEnd: b(end) },
    });
    return this.store.revision;
  }

  /** A txn of puts (key → value), unconditional. */
  putMany(entries: [string, string][]): number {
    this.apply({
      op: "txn",
      req: { compare: [], success: entries.map(([k, v]) => op.put(k, v)), failure: [] },
    });
    return this.store.revision;
  }

  /** Gives the hub the time (ms). */
  tick(nowMs: number): void {
    this.hub.tick(nowMs);
  }

  compact(revision: number): void {
    this.apply({ op: "compact", req: { revision } });
  }

  /** A watch with text key and range end. */
  watch(key: string, extra: Partial<WatchRequest> & { end?: string } = {}): WatchStream {
    const { end, ...rest } = extra;
    return this.hub.watch({ key: b(key), ...(end === undefined ? {} : { rangeEnd: b(end) }), ...rest });
  }
}

/** Every message buffered now (takes them; refills from history happen as they are taken). */
export function drain(w: WatchStream): WatchMessage[] {
  const out: WatchMessage[] = [];
  for (let m = w.poll(); m !== undefined; m = w.poll()) out.push(m);
  return out;
}

/** `PUT k=v [prev k=v0]` / `DELETE k [prev k=v0]`; prev only when present. */
export function eventText(e: WatchEvent): string {
  const kv = e.type === "PUT" ? `${str(e.kv.key)}=${str(e.kv.value)}` : str(e.kv.key);
  const prev = e.prevKv ? ` [prev ${str(e.prevKv.value)}@${e.prevKv.modRevision}]` : "";
  return `${e.type} ${kv}@${e.kv.modRevision}${prev}`;
}

/** One line per message: `r7: PUT a=1@7 | DELETE b@7`, `progress 7`, `compacted 5`, `cancelled 9`. */
export function messageText(m: WatchMessage): string {
  switch (m.kind) {
    case "events":
      return `r${m.revision}: ${m.events.map(eventText).join(" | ")}`;
    case "progress":
      return `progress ${m.revision}${m.requested ? " (requested)" : ""}`;
    case "compacted":
      return `compacted ${m.compactRevision}`;
    case "cancelled":
      return `cancelled ${m.resumeRevision}`;
  }
}

/** Texts of the events messages only. */
export function eventLines(ms: WatchMessage[]): string[] {
  return ms.filter((m) => m.kind === "events").map(messageText);
}

const KEYS = ["p/a", "p/b", "p/c", "p/d", "q"];

/**
 * Applies `count` random writes (puts, deletes, prefix deletes, multi-key txns) over a small
 * keyspace (only through this function, so that rig.model stays true) and returns, per revision, the event line a brute-force model expects for a watch
 * on every key with prev_kv (see messageText), keyed by revision.
 */
export function randomHistory(rig: WatchRig, rng: () => number, count: number): Map<number, string> {
  const model = rig.model;
  const expected = new Map<number, string>();
  const pick = () => KEYS[Math.floor(rng() * KEYS.length)]!;
  let n = 0;
  while (n < count) {
    const before = rig.store.revision;
    const rev = before + 1;
    const changes: { key: string; value?: string }[] = [];
    const r = rng();
    if (r < 0.5) {
      const key = pick();
      changes.push({ key, value: `v${rev}` });
      rig.put(key, `v${rev}`);
    } else if (r < 0.7) {
      const key = pick();
      if (model.has(key)) changes.push({ key });
      rig.del(key);
    } else if (r < 0.8) {
      for (const key of [...model.keys()].filter((k) => k.startsWith("p/"))) changes.push({ key });
      rig.del("p/", "p0");
    } else {
      const chosen = [...new Set([pick(), pick(), pick()])].reverse(); // not in key order
      for (const key of chosen) changes.push({ key, value: `t${rev}` });
      rig.putMany(chosen.map((k) => [k, `t${rev}`]));
    }
    if (changes.length === 0) {
      if (rig.store.revision !== before) throw new Error("a no-op write moved the revision");
      continue;
    }
    n++;
    changes.sort((x, y) => (x.key < y.key ? -1 : 1));
    const line = changes.map((c) => {
      const prev = model.get(c.key);
      const prevText = prev ? ` [prev ${prev.value}@${prev.mod}]` : "";
      if (c.value === undefined) {
        model.delete(c.key);
        return `DELETE ${c.key}@${rev}${prevText}`;
      }
      model.set(c.key, { value: c.value, mod: rev });
      return `PUT ${c.key}=${c.value}@${rev}${prevText}`;
    });
    expected.set(rev, `r${rev}: ${line.join(" | ")}`);
  }
  return expected;
}

/** The expected lines of revisions >= `from`, in order. */
export function linesFrom(expected: Map<number, string>, from: number): string[] {
  return [...expected.entries()].filter(([rev]) => rev >= from).map(([, line]) => line);
}
