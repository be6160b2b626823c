/**
 * The replicated state machine of the simulation: the sequence of applied entries itself, so that
 * "applied sequences are prefixes of each other" can be checked directly. Snapshots encode it.
 */
import type { Entry } from "../../src/raft/types.ts";

/** One applied entry. `data` is the proposal text ("" for a leader's no-op). */
export interface AppliedEntry {
  index: number;
  term: number;
  data: string;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The applied form of a log entry. */
export function toApplied(e: Entry): AppliedEntry {
  return { index: e.index, term: e.term, data: decoder.decode(e.data) };
}

/** Snapshot bytes of a state machine. */
export function encodeState(applied: readonly AppliedEntry[]): Uint8Array {
  return encoder.encode(JSON.stringify(applied.map((a) => [a.index, a.term, a.data])));
}

/** Inverse of {@link encodeState}. */
export function decodeState(data: Uint8Array): AppliedEntry[] {
  const rows = JSON.parse(decoder.decode(data)) as [number, number, string][];
  return rows.map(([index, term, d]) => ({ index, term, data: d }));
}

/** Proposal bytes of a value. */
export function valueBytes(value: string): Uint8Array {
  return encoder.encode(value);
}
