/**
 * The wire form of replicated commands: the `data` of a Raft log entry (msgpack, via msgpackr).
 * Byte fields travel as msgpack bin and come back as Uint8Array; absent fields stay absent.
 */
import { Packr } from "msgpackr";
import { CairnError, invalidArgument } from "../util/errors.ts";
import { parseCommand } from "./command-shape.ts";
import type { Command } from "./types.ts";

/** Plain maps (no msgpackr records), fresh copies of byte fields on decode. */
const packr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true });

/**
 * Encodes a command for a log entry. The command is checked and normalized first (unknown and
 * undefined fields dropped), so equal commands encode to equal bytes.
 * @returns a fresh Uint8Array
 * @throws CairnError("invalid_argument") when a field has the wrong type
 */
export function encodeCommand(c: Command): Uint8Array {
  return new Uint8Array(packr.pack(parseCommand(c)));
}

/**
 * Decodes a log entry's data back into a command.
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
