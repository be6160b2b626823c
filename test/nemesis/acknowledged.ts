/**
 * The end-of-run durability check of the nemesis: every acknowledged write is still there. For each
 * key, the value read on every member at the end must be the value of the last acknowledged write
 * of that key, or of a write that may have taken effect after it (one that did not return before
 * the last acknowledged one was called, or whose outcome is unknown). A key never acknowledged
 * written may also be absent.
 */
import type { History, Operation } from "../lincheck/history.ts";
import type { KvCasOutput, KvInput, KvOutput } from "../lincheck/kv-model.ts";

/** The value a write leaves (null: absent), or undefined when the operation writes nothing. */
function writtenValue(op: Operation<KvInput, KvOutput>): string | null | undefined {
  const { input, outcome } = op;
  if (outcome.type === "fail") return undefined;
  const succeeded = outcome.type === "unknown" || (outcome.output as KvCasOutput).succeeded === true;
  switch (input.op) {
    case "get":
      return undefined;
    case "put":
      return input.value;
    case "delete":
      return null;
    case "cas":
      return succeeded ? input.value : undefined;
    case "casDelete":
      return succeeded ? null : undefined;
  }
}

/**
 * Checks the final reads against the history (see the module comment).
 * @param history every client operation (final reads may be included: they write nothing)
 * @param finalReads key → member name → the value that member returned at the end (null: absent)
 * @returns one line per problem; empty when every acknowledged write is present everywhere
 */
export function checkAcknowledgedWrites(
  history: History<KvInput, KvOutput>,
  finalReads: ReadonlyMap<string, ReadonlyMap<string, string | null>>,
): string[] {
  const writes = new Map<string, { op: Operation<KvInput, KvOutput>; value: string | null }[]>();
  for (const op of history) {
    const value = writtenValue(op);
    if (value === undefined) continue;
    let list = writes.get(op.input.key);
    if (list === undefined) writes.set(op.input.key, (list = []));
    list.push({ op, value });
  }
  const problems: string[] = [];
  for (const [key, byMember] of finalReads) {
    const list = writes.get(key) ?? [];
    let last: Operation<KvInput, KvOutput> | undefined;
    for (const { op } of list) {
      if (op.outcome.type === "ok" && (last === undefined || op.returnTime > last.returnTime)) last = op;
    }
    const allowed = new Set<string | null>();
    if (last === undefined) allowed.add(null);
    for (const { op, value } of list) {
      if (last === undefined || op.returnTime >= last.callTime) allowed.add(value);
    }
    for (const [member, value] of byMember) {
      if (!allowed.has(value)) {
        problems.push(
          `key ${JSON.stringify(key)}: ${member} holds ${JSON.stringify(value)}, but the last acknowledged write ` +
            `(op ${last?.id}: ${JSON.stringify(last?.input)}) or a later one left one of ` +
            `${JSON.stringify([...allowed].slice(0, 10))}${allowed.size > 10 ? " ..." : ""}`,
        );
      }
    }
    const distinct = new Set(byMember.values());
    if (distinct.size > 1) {
      problems.push(
        `key ${JSON.stringify(key)}: members disagree at the end: ${JSON.stringify(Object.fromEntries(byMember))}`,
      );
    }
  }
  return problems;
}
