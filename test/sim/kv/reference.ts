/**
 * The reference replica: the committed log as the safety checker recorded it (first apply of every
 * index), replayed from index 1 through a fresh ReplicatedState (the real apply). At the end of a run every
 * member's state must equal it (State Machine Safety §5.4.3 against an independent replay), and it
 * tells, per key, which committed write put which value at which index: the basis of the
 * lost-write check.
 */
import type { KvStore } from "../../../src/mvcc/store.ts";
import type { Command, CommandResult, TxnResponse } from "../../../src/mvcc/types.ts";
import type { Membership } from "../../../src/server/membership.ts";
import { ReplicatedState } from "../../../src/server/state-machine.ts";
import { crc32 } from "../../../src/util/crc.ts";
import type { CommittedEntry } from "./invariants.ts";

const dec = new TextDecoder();

/** A write that took effect: key, value (null: deleted) and the log index that carried it. */
export interface Effect {
  key: string;
  value: string | null;
  index: number;
}

/** The replayed state. */
export interface Reference {
  kv: KvStore;
  membership: Membership;
  /** Index of the last replayed entry. */
  index: number;
  /** Same digest as KvNode.digest(). */
  digest: number;
  /** Every write that took effect, in log order. */
  effects: Effect[];
}

/** Replays `committed[1..upTo]` through a fresh ReplicatedState (src/server/state-machine.ts). */
export function replayCommitted(committed: readonly (CommittedEntry | undefined)[], upTo: number): Reference {
  const state = new ReplicatedState();
  const effects: Effect[] = [];
  for (let i = 1; i <= upTo; i++) {
    const e = committed[i];
    if (!e) throw new Error(`reference replay: no committed entry recorded at index ${i}`);
    const out = state.apply({ index: i, term: e.term, type: e.type as 0 | 1, data: e.data });
    if (out.kind === "kv" && out.result) effects.push(...effectsOf(out.command, out.result, i));
  }
  return {
    kv: state.kv,
    membership: state.membership,
    index: upTo,
    digest: crc32(state.snapshot()),
    effects,
  };
}

/** The single-key writes a command made (the simulation's clients never write ranges). */
function effectsOf(c: Command, result: CommandResult, index: number): Effect[] {
  switch (c.op) {
    case "put":
      return [{ key: dec.decode(c.req.key), value: dec.decode(c.req.value), index }];
    case "deleteRange":
      return "deleted" in result && result.deleted > 0
        ? [{ key: dec.decode(c.req.key), value: null, index }]
        : [];
    case "txn": {
      const r = result as TxnResponse;
      const ops = r.succeeded ? c.req.success : c.req.failure;
      const out: Effect[] = [];
      ops.forEach((op, k) => {
        const resp = r.responses[k];
        if ("requestPut" in op)
          out.push({ key: dec.decode(op.requestPut.key), value: dec.decode(op.requestPut.value), index });
        else if (
          "requestDeleteRange" in op &&
          resp &&
          "responseDeleteRange" in resp &&
          resp.responseDeleteRange.deleted > 0
        )
          out.push({ key: dec.decode(op.requestDeleteRange.key), value: null, index });
      });
      return out;
    }
    default:
      return [];
  }
}
