/**
 * The end of a run: heal everything, restart every member that is down, let the cluster converge,
 * read every key on every member through the normal linearizable path, then check:
 * - every member's state equals the reference replay of the committed log (State Machine Safety);
 * - no acknowledged write is lost: every acknowledged put/cas value was committed, and is the
 *   final value of its key on every member unless a later committed write to that key superseded it;
 * - the history of every client call (plus the final reads) is linearizable (test/lincheck).
 */
import type { RangeResponse } from "../../../src/mvcc/types.ts";
import { type CheckResult, checkLinearizable } from "../../lincheck/checker.ts";
import { callOnce } from "./client.ts";
import type { KvCluster } from "./cluster.ts";
import { SafetyViolation } from "./invariants.ts";
import type { KvNode } from "./node.ts";
import { replayCommitted } from "./reference.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The cluster did not recover after every fault was healed. */
export class LivenessFailure extends Error {
  override name = "LivenessFailure";
}

/** What the final phase checked. */
export interface FinalReport {
  members: number;
  finalIndex: number;
  ackedWrites: number;
  lincheck: CheckResult;
}

/** Settles the cluster after the fault phase and runs the end-of-run checks. @throws on any violation */
export function settleAndCheck(c: KvCluster, keys: string[], maxSteps: number): FinalReport {
  c.nemesis.stop();
  c.net.heal();
  c.net.settings = { ...c.net.settings, dropProbability: 0, spikeProbability: 0 };
  for (const n of c.allNodes()) if (!n.up && !n.removed) c.restart(n);
  converge(c, "after healing");
  const members = () => c.memberIds().map((id) => c.node(id)!);
  readEveryKey(c, members(), keys);
  converge(c, "after the final reads");

  const finalIndex = c.safety.maxCommittedIndex;
  const ref = replayCommitted(c.safety.committed, finalIndex);
  const checked = members();
  for (const n of checked) {
    if (n.appliedIndex !== finalIndex)
      throw new SafetyViolation(`${n.name} applied ${n.appliedIndex} but ${finalIndex} is committed`);
    if (n.digest() !== ref.digest)
      throw new SafetyViolation(
        `${n.name}'s final state differs from the replay of the committed log at ${finalIndex}`,
      );
  }
  checkAckedWrites(checked, c.acked, keys, ref.effects);

  const lincheck = checkLinearizable(c.history.history(), { maxSteps });
  if (lincheck.ok === false)
    throw new SafetyViolation(`history is not linearizable (key ${lincheck.key}):\n${lincheck.reason}`);
  if (lincheck.ok === "unknown")
    throw new SafetyViolation(
      `linearizability check ran out of budget (key ${lincheck.key}): ${lincheck.reason}`,
    );
  return { members: checked.length, finalIndex, ackedWrites: c.acked.length, lincheck };
}

/** Attempts of one final read (a client retries a read that failed, e.g. during an election). */
const FINAL_READ_ATTEMPTS = 5;

/** Reads every key on every member through the linearizable path, retrying failures; all must succeed. */
function readEveryKey(c: KvCluster, members: KvNode[], keys: string[]): void {
  let pending = 0;
  const failed: string[] = [];
  const read = (node: KvNode, key: string, attempt: number) => {
    pending++;
    callOnce(c, "final", node, { op: "get", key }, 3_000, (out) => {
      pending--;
      if (out !== null) return;
      if (attempt < FINAL_READ_ATTEMPTS) c.sched.after(50, () => read(node, key, attempt + 1));
      else failed.push(`${node.name}/${key}`);
    });
  };
  for (const node of members) for (const key of keys) read(node, key, 1);
  if (!c.runFor(30_000, () => pending === 0)) throw new LivenessFailure("final reads did not finish");
  if (failed.length > 0)
    throw new LivenessFailure(
      `final reads failed ${FINAL_READ_ATTEMPTS} times after convergence: ${failed.join(" ")}`,
    );
}

/**
 * Runs until the cluster converged and no client call is pending (converged() reads every
 * member's status: evaluated at most once per simulated ms). @throws LivenessFailure
 */
function converge(c: KvCluster, when: string): void {
  let lastCheckMs = -1;
  const done = () => {
    if (c.sched.nowMs === lastCheckMs) return false;
    lastCheckMs = c.sched.nowMs;
    return c.pendingCalls === 0 && c.converged();
  };
  if (!c.runFor(c.cfg.settleMs, done))
    throw new LivenessFailure(`the cluster did not converge ${when}:\n${c.describe()}`);
}

/** No acknowledged write is lost: committed, and visible at the end unless superseded. */
function checkAckedWrites(
  members: KvNode[],
  acked: readonly { opId: number; key: string; value: string | null }[],
  keys: string[],
  effects: { key: string; value: string | null; index: number }[],
): void {
  const indexOf = new Map<string, number>();
  const lastWrite = new Map<string, number>();
  for (const e of effects) {
    if (e.value !== null) indexOf.set(`${e.key}\u0000${e.value}`, e.index);
    lastWrite.set(e.key, e.index);
  }
  const finalValues = new Map<string, string | null>();
  for (const node of members) {
    for (const key of keys) {
      const r: RangeResponse = node.kv.range({ key: enc.encode(key) });
      const v = r.kvs[0] ? dec.decode(r.kvs[0].value) : null;
      const prev = finalValues.get(key);
      if (prev !== undefined && prev !== v)
        throw new SafetyViolation(
          `final value of ${key} differs between members: ${prev} vs ${v} (${node.name})`,
        );
      finalValues.set(key, v);
    }
  }
  for (const w of acked) {
    if (w.value === null) continue;
    const at = indexOf.get(`${w.key}\u0000${w.value}`);
    if (at === undefined)
      throw new SafetyViolation(
        `acknowledged write lost: ${w.key}=${w.value} (op ${w.opId}) was never committed`,
      );
    if (finalValues.get(w.key) !== w.value && (lastWrite.get(w.key) ?? 0) <= at) {
      throw new SafetyViolation(
        `acknowledged write lost: ${w.key}=${w.value} (op ${w.opId}, index ${at}) is not the final value ${finalValues.get(w.key)} and nothing later wrote ${w.key}`,
      );
    }
  }
}
