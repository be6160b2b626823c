/**
 * Turning a replayed WAL and a snapshot into the state `load` returns, with the checks that no
 * committed data is missing.
 */
import type { Snapshot } from "../../raft/types.ts";
import { loadedHardState } from "../rules.ts";
import { type PersistedState, StorageCorruptError } from "../types.ts";
import type { LogReplay } from "./wal-replay.ts";

/**
 * Builds the loaded state: the snapshot, the replayed entries after it (copied out of the segment
 * buffers) and the hard state.
 * @param context appended to error messages (e.g. which newer snapshots failed their checksum)
 * @throws StorageCorruptError when the entries after the snapshot do not start right after it, or
 *   when the hard state's commit index lies beyond both the log and the snapshot (committed entries missing)
 */
export function assembleState(replay: LogReplay, snapshot: Snapshot | null, context = ""): PersistedState {
  const snapIndex = snapshot?.metadata.index ?? 0;
  const after = replay.entries.filter((e) => e.index > snapIndex);
  const first = after[0];
  const suffix = context ? `; ${context}` : "";
  if (first !== undefined && first.index !== snapIndex + 1) {
    throw new StorageCorruptError(
      `WAL entries after the ${snapshot ? `snapshot at index ${snapIndex}` : "start of the log"} begin at index ${first.index}: entries ${snapIndex + 1}..${first.index - 1} are missing${suffix}`,
    );
  }
  const lastIndex = Math.max(after.at(-1)?.index ?? 0, snapIndex);
  const commit = replay.hardState?.commit ?? 0;
  if (commit > lastIndex) {
    throw new StorageCorruptError(
      `hard state commit index ${commit} is beyond the last stored index ${lastIndex}: committed entries are missing${suffix}`,
    );
  }
  return {
    hardState: loadedHardState(replay.hardState, snapIndex),
    snapshot,
    entries: after.map((e) => ({ term: e.term, index: e.index, type: e.type, data: new Uint8Array(e.data) })),
  };
}
