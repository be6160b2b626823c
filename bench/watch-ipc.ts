/**
 * What bench/watch.ts (the parent) and its watcher processes (bench/watch-client.ts) say to each
 * other over Node's IPC channel (JSON), and the shared definitions both sides need: the probe
 * value format (a put that carries its send time) and the latency histogram.
 *
 * Clock: every process on the machine reads the same wall clock through
 * `performance.timeOrigin + performance.now()` (ms, sub-ms resolution), so a watcher process can
 * subtract the writer's send time from its own receive time.
 */
import * as hdr from "hdr-histogram-js";

/**
 * Watched prefix: a config center's keys. The probe key and the keys of the "load on the watched
 * prefix" phase ("cfg/b000" …) are inside it; bench/workload.ts's keys ("bench000" …), written by
 * the "load outside the watched prefix" phase and the baseline, are not.
 */
export const WATCH_PREFIX = "cfg/";
/** The writer's probe key, inside the watched prefix. */
export const PROBE_KEY = `${WATCH_PREFIX}lat`;
/** Key of the marker put that closes a phase whose load is outside the prefix (not a probe). */
export const MARKER_KEY = `${WATCH_PREFIX}marker`;
/** Text that only a probe event's data holds (cheap test before parsing an event's JSON). */
export const PROBE_MARK = `"key":"${PROBE_KEY}"`;

/** Milliseconds on the machine-wide clock, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Value of a probe put: its send time (ms, {@link nowMs}) and sequence number. */
export interface ProbeValue {
  t: number;
  seq: number;
}

/** A latency histogram in µs (same settings as bench/load.ts: 1 µs … 1 h, 3 significant digits). */
export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    useWebAssembly: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Decodes a histogram sent by {@link hdr.encodeIntoCompressedBase64}. */
export function decodeHistogram(b64: string): hdr.Histogram {
  return hdr.decodeFromCompressedBase64(b64, 32, false);
}

/** Counters of one phase in one watcher process (all watchers of the process together). */
export interface PhaseCounters {
  /** Revision messages received (one per watcher per revision). */
  events: number;
  /** Revisions skipped: an event arrived above the next expected revision (sum of the gaps). */
  missed: number;
  /**
   * Messages at or below a revision already seen (duplicate or out of order), and, in a "listed"
   * phase, revisions that are not in the watched prefix's history of the phase (delivered wrongly).
   */
  duplicates: number;
  /** Probe events whose latency was recorded. */
  probeEvents: number;
  /** Streams ended by a `cancelled` event (the server's slow-watcher protection). */
  cancelled: number;
  /** Streams ended by a `compacted` event. */
  compacted: number;
  /** Streams that ended or failed without a final event (server closed, socket error, bad data). */
  broken: number;
  /** First few distinct error and cancel texts. */
  samples: string[];
}

/** A phase's counters plus its put→event latency histogram (µs, compressed base64). */
export interface PhaseReport extends PhaseCounters {
  phase: string;
  latencyB64: string;
}

/** Parent → watcher process. */
export type ParentMessage =
  /** Open `count` SSE watchers on `url` (ramped: at most `concurrency` waiting for `created`). */
  | { type: "open"; url: string; count: number; concurrency: number; timeoutMs: number }
  /**
   * From now on count events under `phase` (answered with `phased`). `expect`: "every" when every
   * revision after `fromRevision` is inside the watched prefix (each watcher must see each one, a
   * gap is counted as missed at once); "listed" when other keys are written too (the watcher
   * records what it gets, checked against the prefix's history by a `verify` message).
   */
  | { type: "phase"; phase: string; expect: "every" | "listed"; fromRevision: number }
  /** Answer `drained` once every open watcher has seen `revision`, or after `timeoutMs`. */
  | { type: "drain"; id: number; revision: number; timeoutMs: number }
  /**
   * "listed" phase: `revisions` are the watched prefix's revisions of the phase (from the member's
   * history); each open watcher must have got exactly these (answered with `verified`).
   */
  | { type: "verify"; revisions: number[] }
  /** Send `result`, then close every watcher and exit. */
  | { type: "finish" };

/** Watcher process → parent. */
export type ChildMessage =
  | { type: "ready" }
  | { type: "phased"; phase: string }
  /** `opened` watchers got their `created` event; `failed` did not (errors: first few reasons). */
  | { type: "opened"; opened: number; failed: number; errors: string[]; elapsedMs: number }
  /**
   * `behind` open watchers had not reached the revision when the answer was sent (0: drained);
   * lastEventMs: when the last revision event reached any open watcher ({@link nowMs} clock).
   */
  | { type: "drained"; id: number; open: number; behind: number; lastEventMs: number; elapsedMs: number }
  /** Open watchers checked; revisions they missed and got wrongly, summed over the watchers. */
  | { type: "verified"; checked: number; missed: number; unexpected: number }
  | { type: "result"; phases: PhaseReport[]; open: number }
  /** A failure that ends the process (uncaught error). */
  | { type: "fatal"; message: string };
