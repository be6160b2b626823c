/**
 * The probe writer of bench/watch.ts: puts to {@link PROBE_KEY} on a fixed schedule (one every
 * `intervalMs`, at most `maxInFlight` unanswered), each value carrying its send time, so every
 * watcher can measure put → event. Goes through etcd's gateway put (`POST /v3/kv/put`, the same
 * request bench/load.ts sends) on bench/http.ts's keep-alive pool.
 */
import type { Histogram } from "hdr-histogram-js";
import { isShuttingDown } from "./cleanup.ts";
import { type Endpoint, postJson } from "./http.ts";
import { newLatencyHistogram, nowMs, PROBE_KEY, type ProbeValue } from "./watch-ipc.ts";

/** How a probe run is paced and bounded. */
export interface ProbeOptions {
  /** Puts to send; undefined: until `stop()` says so (or `maxDurationMs`). */
  count?: number;
  /** Time between the scheduled sends of two puts (ms). */
  intervalMs: number;
  /** Most puts waiting for an answer; a send is delayed (not dropped) while this many are out. */
  maxInFlight: number;
  /** A put without an answer after this many ms is an error. */
  requestTimeoutMs: number;
  /** Hard bound of the run (ms), whatever count or stop() say. */
  maxDurationMs: number;
  /** Checked before each send: true ends the run. */
  stop?: () => boolean;
  /**
   * Awaited after each answered put, inside its in-flight slot (with maxInFlight 1 the next put
   * waits for it), with the put's revision and send time ({@link nowMs}); a throw counts as an error.
   */
  afterEach?: (revision: number, sentMs: number) => Promise<void>;
}

/** What a probe run did. */
export interface ProbeResult {
  sent: number;
  ok: number;
  errors: number;
  /** Error kind → count. */
  errorKinds: Record<string, number>;
  /** Highest revision a put answered with (0 if none). */
  lastRevision: number;
  /** Put → answer latency (µs). Caller destroys it. */
  ack: Histogram;
  elapsedMs: number;
}

const keyBase64 = Buffer.from(PROBE_KEY).toString("base64");

/** Runs probe puts on `endpoint` until `count` are sent (or stop / the time bound), then waits for their answers. */
export async function runProbes(endpoint: Endpoint, opts: ProbeOptions): Promise<ProbeResult> {
  const r: ProbeResult = {
    sent: 0,
    ok: 0,
    errors: 0,
    errorKinds: {},
    lastRevision: 0,
    ack: newLatencyHistogram(),
    elapsedMs: 0,
  };
  const start = performance.now();
  const deadline = start + opts.maxDurationMs;
  const inFlight = new Set<Promise<void>>();
  const one = async (seq: number): Promise<void> => {
    const value: ProbeValue = { t: nowMs(), seq };
    const body = Buffer.from(
      JSON.stringify({ key: keyBase64, value: Buffer.from(JSON.stringify(value)).toString("base64") }),
    );
    const t0 = performance.now();
    let ackMs = 0;
    let kind: string | null = null;
    try {
      const a = await postJson(endpoint, "/v3/kv/put", body, opts.requestTimeoutMs);
      if (a.status !== 200) kind = `http ${a.status}: ${a.body.slice(0, 120)}`;
      else {
        const rev = Number((JSON.parse(a.body) as { header?: { revision?: string } }).header?.revision);
        if (!Number.isSafeInteger(rev)) kind = "put answer without header.revision";
        else {
          r.lastRevision = Math.max(r.lastRevision, rev);
          ackMs = performance.now() - t0;
          await opts.afterEach?.(rev, value.t);
        }
      }
    } catch (err) {
      kind = (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));
    }
    if (kind === null) {
      r.ok++;
      r.ack.recordValue(Math.max(1, Math.round(ackMs * 1000)));
    } else {
      r.errors++;
      r.errorKinds[kind] = (r.errorKinds[kind] ?? 0) + 1;
    }
  };
  // Bounded: stops at count, stop(), Ctrl-C or the deadline; every put has a timeout.
  for (let seq = 0; opts.count === undefined || seq < opts.count; seq++) {
    const due = start + seq * opts.intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    while (inFlight.size >= opts.maxInFlight) await Promise.race(inFlight);
    if (opts.stop?.() || isShuttingDown() || performance.now() > deadline) break;
    const p: Promise<void> = one(seq).finally(() => inFlight.delete(p));
    inFlight.add(p);
    r.sent++;
  }
  await Promise.all(inFlight);
  r.elapsedMs = performance.now() - start;
  return r;
}
