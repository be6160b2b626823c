/**
 * The event trace of one run: every interesting event (message delivered or lost, Ready taken,
 * disk sync, client call and answer, fault) as a short record `[timeMs, kind, ...fields]`.
 *
 * - `digest` folds every record into a 32-bit FNV-1a hash: two runs of one seed must end with the
 *   same digest (the determinism test).
 * - The last `tailSize` records are kept for failure reports; with `keepAll` (replay of one seed)
 *   every record is kept and can be printed.
 */

/** One field of a trace record. */
export type TraceField = string | number | boolean;

type TraceRecord = [timeMs: number, kind: string, ...fields: TraceField[]];

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The trace of one run. */
export class Trace {
  private hash = FNV_OFFSET;
  private readonly tail: TraceRecord[] = [];
  private tailStart = 0;
  private readonly all: TraceRecord[] | null;
  /** Records added so far. */
  count = 0;

  constructor(
    private readonly clock: { nowMs: number },
    private readonly tailSize = 400,
    keepAll = false,
  ) {
    this.all = keepAll ? [] : null;
  }

  /** Adds a record at the current simulated time. */
  add(kind: string, ...fields: TraceField[]): void {
    const rec: TraceRecord = [this.clock.nowMs, kind, ...fields];
    this.count++;
    let h = this.mixString(this.mixNumber(this.hash, rec[0]), kind);
    for (const f of fields) h = typeof f === "string" ? this.mixString(h, f) : this.mixNumber(h, Number(f));
    this.hash = h;
    if (this.all) this.all.push(rec);
    if (this.tail.length < this.tailSize) this.tail.push(rec);
    else {
      this.tail[this.tailStart] = rec;
      this.tailStart = (this.tailStart + 1) % this.tailSize;
    }
  }

  /** Hex digest of every record so far. */
  get digest(): string {
    return `${(this.hash >>> 0).toString(16).padStart(8, "0")}/${this.count}`;
  }

  /** The last `n` records, formatted one per line. */
  formatTail(n = this.tailSize): string {
    const ordered = [...this.tail.slice(this.tailStart), ...this.tail.slice(0, this.tailStart)];
    return ordered.slice(-n).map(format).join("\n");
  }

  /** Every record, formatted (only with keepAll). */
  formatAll(): string {
    return (this.all ?? []).map(format).join("\n");
  }

  private mixString(h: number, s: string): number {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
    return Math.imul(h ^ 0xff, FNV_PRIME);
  }

  private mixNumber(h: number, n: number): number {
    // Integers and short decimals: hash the low and high 32 bits of the value.
    const lo = n | 0;
    const hi = Math.floor(n / 4294967296) | 0;
    h = Math.imul(h ^ (lo & 0xffff), FNV_PRIME);
    h = Math.imul(h ^ (lo >>> 16), FNV_PRIME);
    return Math.imul(h ^ hi, FNV_PRIME);
  }
}

function format(r: TraceRecord): string {
  const [t, kind, ...fields] = r;
  return `${String(t).padStart(7)}ms ${kind} ${fields.join(" ")}`;
}
