/**
 * The wire form of replicated commands: the `data` of a Raft log entry (msgpack, via msgpackr).
 * Byte fields travel as msgpack bin and come back as Uint8Array; absent fields stay absent.
 */
import { Packr } from "msgpackr";
import { CairnError, invalidArgument } from "../util/errors.ts";
import { parseCommand } from "./command-shape.ts";
import type { Command } from "./types.ts";

/**
 * Plain maps (no msgpackr records). Byte fields decode as views into the decoded buffer, not
 * copies: every copy of a value bigger than 64 bytes is an ArrayBuffer of its own, and young
 * ArrayBuffers are swept one by one in each scavenge pause.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * Encodes a command like {@link encodeCommand}, without the copy: the bytes are a view into the
 * encoder's shared buffer (msgpackr allocates 8 KiB and hands out consecutive slices, never
 * overwritten), so a caller that keeps them pins the whole buffer. For a caller that copies them
 * at once (encodeProposal).
 * @throws CairnError("invalid_argument") when a field has the wrong type
 */
export function encodeCommandView(c: Command): Uint8Array {
  return packr.pack(parseCommand(c));
}

/**
 * Encodes a command for a log entry. The command is checked and normalized first (unknown and
 * undefined fields dropped), so equal commands encode to equal bytes.
 * @returns a fresh Uint8Array
 * @throws CairnError("invalid_argument") when a field has the wrong type
 */
export function encodeCommand(c: Command): Uint8Array {
  return new Uint8Array(encodeCommandView(c));
}

/**
 * Decodes a log entry's data back into a command. Its byte fields (keys, values) are views into
 * `b`, which must therefore not change afterwards (log entries never do); the store copies what
 * it keeps.
 * @throws CairnError("invalid_argument") when the bytes are not msgpack or not a well-formed command
 */
export function decodeCommand(b: Uint8Array): Command {
  let raw: unknown;
  try {
    raw = packr.unpack(b);
  } catch (err) {
    throw invalidArgument(`malformed command: ${(err as Error).message}`);
  }
  try {
    return parseCommand(raw);
  } catch (err) {
    if (err instanceof CairnError) throw invalidArgument(`malformed command: ${err.message}`);
    throw err;
  }
}
