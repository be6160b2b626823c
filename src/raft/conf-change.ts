/**
 * Encoding of a {@link ConfChange} as the data of a ConfChange log entry, and the rules of one
 * single-member change (Raft thesis §4.1; etcd-io/raft confchange). Pure.
 */
import { Packr } from "msgpackr";
import { assert } from "../util/assert.ts";
import { type ConfChange, ConfChangeType, type ConfState } from "./types.ts";

const packr = new Packr({ useRecords: false });
const TYPES: ReadonlySet<string> = new Set(Object.values(ConfChangeType));

/** Bytes of `cc` for a ConfChange entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return packr.pack({ t: cc.type, n: cc.nodeId, c: cc.context }) as Uint8Array;
}

/**
 * Decodes a ConfChange entry's data.
 * @throws AssertionError when the bytes are not an encoded ConfChange (a committed entry that does not
 *   decode means a bug or corruption: stopping is the only safe choice)
 */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const raw = packr.unpack(data) as { t?: unknown; n?: unknown; c?: unknown };
  assert(typeof raw.t === "string" && TYPES.has(raw.t), "raft: ConfChange entry with an unknown type");
  assert(typeof raw.n === "string" && raw.n !== "", "raft: ConfChange entry without a member id");
  const context = raw.c instanceof Uint8Array ? raw.c : new Uint8Array(0);
  return { type: raw.t as ConfChangeType, nodeId: raw.n, context };
}

/**
 * The configuration after `cc` (new arrays; `conf` is not changed). AddNode adds a voter or
 * promotes a learner; AddLearnerNode adds a learner (a voter cannot be demoted this way: etcd 3.4
 * refuses it too); RemoveNode removes a voter or learner. A change that changes nothing (adding a
 * present voter, removing an absent member) returns the same membership, as etcd-io/raft does, so
 * that a duplicate change applied on every member keeps them identical.
 * @throws AssertionError when the result would have no voter
 */
export function applyToConfState(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== cc.nodeId);
  const learners = conf.learners.filter((id) => id !== cc.nodeId);
  const wasVoter = conf.voters.includes(cc.nodeId);
  switch (cc.type) {
    case ConfChangeType.AddNode:
      voters.push(cc.nodeId);
      break;
    case ConfChangeType.AddLearnerNode:
      if (wasVoter) voters.push(cc.nodeId);
      else learners.push(cc.nodeId);
      break;
    case ConfChangeType.RemoveNode:
      break;
  }
  assert(voters.length > 0, "raft: configuration change %s %s would leave no voter", cc.type, cc.nodeId);
  return { voters: voters.sort(), learners: learners.sort() };
}
