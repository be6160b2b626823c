/**
 * Binary codec of Raft messages for the peer transport: a batch of messages is one msgpack array
 * (msgpackr) of plain maps whose keys are the {@link Message} field names; byte fields (entry data,
 * snapshot data, context) are msgpack bin values. Decoding validates every field and returns fresh
 * plain `Uint8Array`s (never views into the receive buffer), so a decoded message equals the sent
 * one field for field.
 */
import { Packr } from "msgpackr";
import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
  type Snapshot,
} from "../raft/types.ts";

/** A payload that is not a valid encoding of a message batch. */
export class CodecError extends Error {
  override name = "CodecError";
}

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: "number", mapsAsObjects: true });

const MESSAGE_TYPES: ReadonlySet<string> = new Set(Object.values(MessageType));
const ENTRY_TYPES: ReadonlySet<number> = new Set(Object.values(EntryType));

/** Member id on the wire: 16 lowercase hex digits or "" (src/raft/types.ts NodeId). */
const NODE_ID = /^(?:[0-9a-f]{16})?$/;

/**
 * Encodes a batch of messages (msgpack array). Optional fields that are undefined are omitted.
 * @throws CodecError when a message is malformed (same checks as {@link decodeMessages})
 */
export function encodeMessages(messages: readonly Message[]): Uint8Array {
  const wire = messages.map((m, i) => toWire(parseMessage(m, `messages[${i}]`, false)));
  return packr.pack(wire);
}

/**
 * Decodes a batch encoded by {@link encodeMessages}.
 * @returns the messages in their order, with copied byte fields
 * @throws CodecError when the bytes are not msgpack or a field is missing or of the wrong type
 */
export function decodeMessages(payload: Uint8Array): Message[] {
  let value: unknown;
  try {
    value = packr.unpack(payload);
  } catch (err) {
    throw new CodecError(`not a msgpack message batch: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw new CodecError("message batch is not an array");
  return value.map((m, i) => parseMessage(m, `messages[${i}]`, true));
}

/**
 * Validates one message (the checks of {@link decodeMessages}) without copying it.
 * @throws CodecError naming the first bad field
 */
export function checkMessage(message: Message): void {
  parseMessage(message, "message", false);
}

/** Validates `value` as a Message; returns a new object, with copied byte fields when `copy`. */
function parseMessage(value: unknown, path: string, copy: boolean): Message {
  const m = record(value, path);
  const type = m.type;
  if (typeof type !== "string" || !MESSAGE_TYPES.has(type)) throw bad(`${path}.type`, type);
  const entriesValue = m.entries;
  if (!Array.isArray(entriesValue)) throw bad(`${path}.entries`, entriesValue);
  const msg: Message = {
    type: type as MessageType,
    from: nodeId(m.from, `${path}.from`),
    to: nodeId(m.to, `${path}.to`),
    term: count(m.term, `${path}.term`),
    logTerm: count(m.logTerm, `${path}.logTerm`),
    index: count(m.index, `${path}.index`),
    entries: entriesValue.map((e, i) => entry(e, `${path}.entries[${i}]`, copy)),
    commit: count(m.commit, `${path}.commit`),
    reject: boolean(m.reject, `${path}.reject`),
    rejectHint: count(m.rejectHint, `${path}.rejectHint`),
  };
  if (m.snapshot !== undefined && m.snapshot !== null)
    msg.snapshot = snapshot(m.snapshot, `${path}.snapshot`, copy);
  if (m.context !== undefined && m.context !== null) msg.context = bytes(m.context, `${path}.context`, copy);
  return msg;
}

/** Upper estimate of the encoded size of a message in bytes (for batching; never below the real size). */
export function estimateEncodedBytes(m: Message): number {
  // Fixed fields: 10 keys (< 12 bytes each) + 6 numbers (9 bytes) + two 16-char ids + type name.
  let bytes = 256;
  for (const e of m.entries) bytes += 48 + e.data.byteLength;
  if (m.snapshot !== undefined) {
    const cs = m.snapshot.metadata.confState;
    bytes += 128 + m.snapshot.data.byteLength + 24 * (cs.voters.length + cs.learners.length);
  }
  if (m.context !== undefined) bytes += 16 + m.context.byteLength;
  return bytes;
}

function toWire(m: Message): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e) => ({ term: e.term, index: e.index, type: e.type, data: e.data })),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
  };
  if (m.snapshot !== undefined) {
    const { metadata, data } = m.snapshot;
    wire.snapshot = {
      metadata: {
        index: metadata.index,
        term: metadata.term,
        confState: { voters: metadata.confState.voters, learners: metadata.confState.learners },
      },
      data,
    };
  }
  if (m.context !== undefined) wire.context = m.context;
  return wire;
}

function entry(value: unknown, path: string, copy: boolean): Entry {
  const e = record(value, path);
  const type = e.type;
  if (typeof type !== "number" || !ENTRY_TYPES.has(type)) throw bad(`${path}.type`, type);
  return {
    term: count(e.term, `${path}.term`),
    index: count(e.index, `${path}.index`),
    type: type as EntryType,
    data: bytes(e.data, `${path}.data`, copy),
  };
}

function snapshot(value: unknown, path: string, copy: boolean): Snapshot {
  const s = record(value, path);
  const meta = record(s.metadata, `${path}.metadata`);
  const cs = record(meta.confState, `${path}.metadata.confState`);
  const confState: ConfState = {
    voters: nodeIds(cs.voters, `${path}.metadata.confState.voters`),
    learners: nodeIds(cs.learners, `${path}.metadata.confState.learners`),
  };
  return {
    metadata: {
      index: count(meta.index, `${path}.metadata.index`),
      term: count(meta.term, `${path}.metadata.term`),
      confState,
    },
    data: bytes(s.data, `${path}.data`, copy),
  };
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw bad(path, value);
  }
  return value as Record<string, unknown>;
}

function count(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw bad(path, value);
  return value;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") throw bad(path, value);
  return value;
}

function nodeId(value: unknown, path: string): NodeId {
  if (typeof value !== "string" || !NODE_ID.test(value)) throw bad(path, value);
  return value;
}

function nodeIds(value: unknown, path: string): NodeId[] {
  if (!Array.isArray(value)) throw bad(path, value);
  return value.map((v, i) => nodeId(v, `${path}[${i}]`));
}

function bytes(value: unknown, path: string, copy: boolean): Uint8Array {
  if (!(value instanceof Uint8Array)) throw bad(path, value);
  // A copy is detached from the receive buffer and a plain Uint8Array (msgpackr yields Buffers).
  return copy ? new Uint8Array(value) : value;
}

function bad(path: string, value: unknown): CodecError {
  const shown = value instanceof Uint8Array ? `${value.byteLength} bytes` : JSON.stringify(value);
  return new CodecError(`invalid ${path}: ${shown?.slice(0, 64) ?? String(value)}`);
}
