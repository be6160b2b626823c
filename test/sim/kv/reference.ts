/**
 * The reference replica: the committed log as the safety checker recorded it (first apply of every
 * index), replayed from index 1 into a fresh KvStore and member table. At the end of a run every
 * member's state must equal it (State Machine Safety §5.4.3 against an independent replay), and it
 * tells, per key, which committed write put which value at which index: the basis of the
 * lost-write check.
 */
import { KvStore } from "../../../src/mvcc/store.ts";
import type { Command, CommandResult, TxnResponse } from "../../../src/mvcc/types.ts";
import { decodeConfChangeEntry } from "../../../src/raft/core.ts";
import { EntryType } from "../../../src/raft/types.ts";
import { Membership } from "../../../src/server/membership.ts";
import { decodeProposal, ProposalKind } from "../../../src/server/proposal.ts";
import { crc32 } from "../../../src/storage/file/crc.ts";
import { CairnError } from "../../../src/util/errors.ts";
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

/** Replays `committed[1..upTo]`. */
export function replayCommitted(committed: readonly (CommittedEntry | undefined)[], upTo: number): Reference {
  const kv = new KvStore();
  const membership = new Membership();
  const effects: Effect[] = [];
  for (let i = 1; i <= upTo; i++) {
    const e = committed[i];
    if (!e) throw new Error(`reference replay: no committed entry recorded at index ${i}`);
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChangeEntry(e.data);
      const ctx = decodeProposal(cc.context);
      if (ctx.kind === ProposalKind.ConfMember) membership.applyConfChange(cc, ctx.member);
      continue;
    }
    if (e.data.length === 0) continue;
    const p = decodeProposal(e.data);
    if (p.kind === ProposalKind.MemberAttributes) membership.applyAttributes(p.attributes);
    else if (p.kind === ProposalKind.MemberPeerUrls) membership.applyPeerUrls(p.update);
    else if (p.kind === ProposalKind.Kv) {
      let result: CommandResult;
      try {
        result = kv.apply(p.command);
      } catch (err) {
        if (err instanceof CairnError) continue;
        throw err;
      }
      effects.push(...effectsOf(p.command, result, i));
    }
  }
  return { kv, membership, index: upTo, digest: crc32(membership.snapshot(), crc32(kv.snapshot())), effects };
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
