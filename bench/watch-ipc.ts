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

/** The writer's probe key; inside the watched prefix, apart from the load's keys ("bench000" …). */
export const PROBE_KEY = "bench-lat";
/** Watched prefix: the probe key and every key of bench/workload.ts ("bench" + number). */
export const WATCH_PREFIX = "bench";
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
  /** Messages at or below a revision already seen (duplicate or out of order). */
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
  /** From now on count events under `phase` (answered with `phased`). */
  | { type: "phase"; phase: string }
  /** Answer `drained` once every open watcher has seen `revision`, or after `timeoutMs`. */
  | { type: "drain"; id: number; revision: number; timeoutMs: number }
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
  | { type: "result"; phases: PhaseReport[]; open: number }
  /** A failure that ends the process (uncaught error). */
  | { type: "fatal"; message: string };
