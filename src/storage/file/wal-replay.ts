/**
 * Rebuilding the log and hard state from WAL records in write order. Later records win:
 * an entry record at index i replaces the stored entries from i on (Raft §5.3: "delete the
 * existing entry and all that follow it"), which also holds across segment boundaries; a log
 * reset record (snapshot install, Raft §7) drops all entries read so far.
 */
import type { Entry, HardState } from "../../raft/types.ts";
import type { WalRecord } from "./wal-record.ts";

/** Log and hard state as replayed so far. */
export class LogReplay {
  /** Contiguous entries: entries[k].index === entries[0].index + k. Data are views into segment buffers. */
  entries: Entry[] = [];
  hardState: HardState | null = null;

  /** Applies one record. */
  apply(rec: WalRecord): void {
    switch (rec.kind) {
      case "hardState":
        this.hardState = rec.hardState;
        return;
      case "logReset":
        this.entries = [];
        return;
      case "entry": {
        const e = rec.entry;
        const first = this.entries[0];
        if (first !== undefined) {
          const keep = e.index - first.index;
          // keep > length: a gap, only possible after a snapshot covered the entries before it.
          if (keep < 0 || keep > this.entries.length) this.entries = [];
          else this.entries.length = keep;
        }
        this.entries.push(e);
        return;
      }
    }
  }
}
