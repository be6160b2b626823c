/**
 * Binary codec of Raft messages for the peer transport: a batch of messages is one msgpack array
 * (msgpackr) of plain maps whose keys are the {@link Message} field names; byte fields (entry data,
 * snapshot data, context) are msgpack bin values. Decoding validates every field and returns
 * plain `Uint8Array`s copied out of the receive buffer (the entries of a message share one), so a
 * decoded message equals the sent one field for field.
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
 * Encodes a batch of messages (msgpack array of the message objects as they are; an optional
 * field left undefined decodes as absent).
 * @throws CodecError when a message is malformed (same checks as {@link decodeMessages})
 */
export function encodeMessages(messages: readonly Message[]): Uint8Array {
  for (let i = 0; i < messages.length; i++) checkMessageAt(messages[i], i);
  return packr.pack(messages);
}

/**
 * Decodes a batch encoded by {@link encodeMessages}.
 * @returns the messages in their order, as fresh objects with copied byte fields
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
  return value.map((m, i) => {
    checkMessageAt(m, i);
    return copyMessage(m);
  });
}

/**
 * Validates one message (the checks of {@link decodeMessages}).
 * @throws CodecError naming the first bad field
 */
export function checkMessage(message: Message): void {
  checkMessageAt(message, -1);
}

/** Upper estimate of the encoded size of a message in bytes (for batching; never below the real size). */
export function estimateEncodedBytes(m: Message): number {
  // Fixed fields: 11 keys (< 12 bytes each) + 6 numbers (9 bytes) + two 16-char ids + type name + a flag.
  let bytes = 256;
  for (const e of m.entries) bytes += 48 + e.data.byteLength;
  if (m.snapshot !== undefined) {
    const cs = m.snapshot.metadata.confState;
    bytes += 128 + m.snapshot.data.byteLength + 24 * (cs.voters.length + cs.learners.length);
  }
  if (m.context !== undefined) bytes += 16 + m.context.byteLength;
  return bytes;
}

/**
 * Where a value sits, as text for an error message. The checks below build it only when one
 * fails, so a valid message (every append and its response) costs no string or object.
 * `message` -1 names a single message.
 */
type Path = () => string;

function messagePath(message: number): Path {
  return () => (message < 0 ? "message" : `messages[${message}]`);
}

function entryPath(message: number, entry: number): Path {
  return () => `${messagePath(message)()}.entries[${entry}]`;
}

function field(path: Path, name: string): Path {
  return () => `${path()}.${name}`;
}

/** Checks every field of a message (no allocation unless it fails). @throws CodecError */
function checkMessageAt(value: unknown, message: number): asserts value is Message {
  if (!isRecord(value)) throw bad(messagePath(message), value);
  const m = value;
  if (typeof m.type !== "string" || !MESSAGE_TYPES.has(m.type)) throw badField(message, "type", m.type);
  if (!isNodeId(m.from)) throw badField(message, "from", m.from);
  if (!isNodeId(m.to)) throw badField(message, "to", m.to);
  if (!isCount(m.term)) throw badField(message, "term", m.term);
  if (!isCount(m.logTerm)) throw badField(message, "logTerm", m.logTerm);
  if (!isCount(m.index)) throw badField(message, "index", m.index);
  if (!isCount(m.commit)) throw badField(message, "commit", m.commit);
  if (typeof m.reject !== "boolean") throw badField(message, "reject", m.reject);
  if (!isCount(m.rejectHint)) throw badField(message, "rejectHint", m.rejectHint);
  const entries = m.entries;
  if (!Array.isArray(entries)) throw badField(message, "entries", entries);
  for (let i = 0; i < entries.length; i++) checkEntry(entries[i], message, i);
  if (m.snapshot !== undefined && m.snapshot !== null)
    checkSnapshot(m.snapshot, field(messagePath(message), "snapshot"));
  if (m.context !== undefined && m.context !== null && !(m.context instanceof Uint8Array))
    throw badField(message, "context", m.context);
  if (m.commitOnly !== undefined && m.commitOnly !== null && typeof m.commitOnly !== "boolean")
    throw badField(message, "commitOnly", m.commitOnly);
}

function checkEntry(value: unknown, message: number, entry: number): void {
  if (!isRecord(value)) throw bad(entryPath(message, entry), value);
  const { type, term, index, data } = value;
  if (typeof type !== "number" || !ENTRY_TYPES.has(type))
    throw bad(field(entryPath(message, entry), "type"), type);
  if (!isCount(term)) throw bad(field(entryPath(message, entry), "term"), term);
  if (!isCount(index)) throw bad(field(entryPath(message, entry), "index"), index);
  if (!(data instanceof Uint8Array)) throw bad(field(entryPath(message, entry), "data"), data);
}

function checkSnapshot(value: unknown, path: Path): void {
  if (!isRecord(value)) throw bad(path, value);
  const metaPath = field(path, "metadata");
  const meta = value.metadata;
  if (!isRecord(meta)) throw bad(metaPath, meta);
  if (!isCount(meta.index)) throw bad(field(metaPath, "index"), meta.index);
  if (!isCount(meta.term)) throw bad(field(metaPath, "term"), meta.term);
  const csPath = field(metaPath, "confState");
  const cs = meta.confState;
  if (!isRecord(cs)) throw bad(csPath, cs);
  checkNodeIds(cs.voters, field(csPath, "voters"));
  checkNodeIds(cs.learners, field(csPath, "learners"));
  if (!(value.data instanceof Uint8Array)) throw bad(field(path, "data"), value.data);
}

function checkNodeIds(value: unknown, path: Path): void {
  if (!Array.isArray(value)) throw bad(path, value);
  value.forEach((v, i) => {
    if (!isNodeId(v)) throw bad(() => `${path()}[${i}]`, v);
  });
}

/**
 * A fresh copy of a checked message with only the known fields; byte fields become plain
 * `Uint8Array`s of their own, detached from the receive buffer (msgpackr yields Buffer views).
 */
function copyMessage(m: Message): Message {
  const msg: Message = {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.length === 0 ? [] : copyEntries(m.entries),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
  };
  if (m.snapshot !== undefined && m.snapshot !== null) msg.snapshot = copySnapshot(m.snapshot);
  if (m.context !== undefined && m.context !== null) msg.context = new Uint8Array(m.context);
  if (m.commitOnly === true) msg.commitOnly = true;
  return msg;
}

/**
 * Copies of `entries` whose data share one new buffer: one allocation per message rather than one
 * per entry (a batch of appends carries dozens; V8 tracks every ArrayBuffer, and thousands of them
 * lengthen each young-generation pause). The entries of one message stay in the Raft log and are
 * compacted together, so the shared buffer retains nothing that would otherwise be freed; the state
 * machine copies the keys and values it keeps.
 */
function copyEntries(entries: readonly Entry[]): Entry[] {
  let total = 0;
  for (const e of entries) total += e.data.byteLength;
  const block = new Uint8Array(total);
  let at = 0;
  return entries.map((e) => {
    const end = at + e.data.byteLength;
    block.set(e.data, at);
    const data = block.subarray(at, end);
    at = end;
    return { term: e.term, index: e.index, type: e.type, data };
  });
}

function copySnapshot(s: Snapshot): Snapshot {
  const { index, term, confState } = s.metadata;
  const cs: ConfState = { voters: [...confState.voters], learners: [...confState.learners] };
  return { metadata: { index, term, confState: cs }, data: new Uint8Array(s.data) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isNodeId(value: unknown): value is NodeId {
  return typeof value === "string" && NODE_ID.test(value);
}

function badField(message: number, name: string, value: unknown): CodecError {
  return bad(field(messagePath(message), name), value);
}

function bad(path: Path, value: unknown): CodecError {
  const shown = value instanceof Uint8Array ? `${value.byteLength} bytes` : JSON.stringify(value);
  return new CodecError(`invalid ${path()}: ${shown?.slice(0, 64) ?? String(value)}`);
}
