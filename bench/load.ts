/**
 * Closed-loop load generator for etcd's JSON gateway (`POST /v3/kv/put`, `POST /v3/kv/range`),
 * so the same requests measure a real etcd and Cairn. N clients each send their next request when
 * the previous one answered; each level runs a warm-up (not recorded) and then a fixed duration or
 * a fixed number of requests. Latencies go into an HDR histogram (hdr-histogram-js, pure-JS build),
 * in microseconds, 3 significant digits.
 *
 * Also runnable on its own against any endpoints:
 *   node --import tsx bench/load.ts --endpoints http://127.0.0.1:2379 --op put --levels 1,16
 */
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import * as hdr from "hdr-histogram-js";
import { isShuttingDown } from "./cleanup.ts";
import { closeEndpoint, type Endpoint, openEndpoint, postJson } from "./http.ts";
import { printResults } from "./report.ts";
import {
  makeWorkload,
  OPERATIONS,
  type Operation,
  operationBodies,
  operationPath,
  type Workload,
} from "./workload.ts";

/** What to drive: a name for the report and the client URLs the clients are spread over. */
export interface LoadTarget {
  /** Name in the report, e.g. "etcd" or "cairn". */
  name: string;
  /** Client URLs (http://127.0.0.1:port); client i talks to endpoints[i % endpoints.length]. */
  endpoints: string[];
}

/** How long and how hard one level runs. */
export interface LevelOptions {
  /** Number of concurrent closed-loop clients (1..4096). */
  clients: number;
  /** Measured duration in ms; used when `requests` is not set. */
  durationMs: number;
  /** If set, the level stops after this many completed requests (errors included) instead of a duration. */
  requests?: number;
  /** Unrecorded warm-up before the measurement, in ms (connections open, caches warm); 0 to skip. */
  warmupMs: number;
  /** A request with no answer after this many ms counts as an error (ETIMEDOUT). */
  requestTimeoutMs: number;
}

/** Result of one (target, operation, clients) level. */
export interface LevelResult {
  target: string;
  operation: Operation;
  clients: number;
  /** Endpoints the clients were spread over. */
  endpoints: string[];
  /** Requests answered with a 2xx and a well-formed body (the ones in the histogram). */
  ok: number;
  /** Requests that failed: non-2xx, network error, timeout, or a body that does not match. */
  errors: number;
  /** Error kind ("http 503: etcdserver: leader changed", "ECONNRESET", ...) → count. */
  errorKinds: Record<string, number>;
  /** Wall time of the measured part, ms. */
  elapsedMs: number;
  /** ok / elapsed seconds. */
  requestsPerSecond: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** CPU time of this (load generator) process during the measurement, as % of one core. */
  generatorCpuPercent: number;
}

/** Hard upper bound of clients per level (sockets and promises in one process). */
const MAX_CLIENTS = 4096;
/** Hard upper bound of one level's duration (keeps every run bounded). */
const MAX_LEVEL_DURATION_MS = 10 * 60 * 1000;

/**
 * Fills every key of the workload with one put each (sequentially through `endpoint`), so range
 * requests find a value.
 * @throws Error on the first failed put (status and body in the message)
 */
export async function populate(endpoint: string, w: Workload, timeoutMs = 10_000): Promise<void> {
  const e = openEndpoint(endpoint, 1);
  try {
    for (let i = 0; i < w.keyCount; i++) {
      const a = await postJson(e, "/v3/kv/put", w.putBodies[i]!, timeoutMs);
      if (a.status < 200 || a.status > 299) {
        throw new Error(`populate: put #${i} on ${endpoint}: ${a.status} ${a.body.slice(0, 300)}`);
      }
    }
  } finally {
    closeEndpoint(e);
  }
}

/**
 * Runs one level: warm-up, then measurement, with `opts.clients` closed-loop clients.
 * Every loop is bounded by the deadline (or request budget) and each request by its timeout.
 * @throws Error on invalid options (clients out of 1..4096, no endpoints, duration out of range)
 */
export async function runLevel(
  target: LoadTarget,
  operation: Operation,
  opts: LevelOptions,
  w: Workload,
): Promise<LevelResult> {
  checkSlice(opts.durationMs, opts.requests); // before the warm-up: bad options cost no load
  const run = new LevelRun(target, operation, opts, w);
  try {
    if (opts.warmupMs > 0) await run.warmUp(opts.warmupMs);
    await run.measure(opts.durationMs, opts.requests);
    return run.result();
  } finally {
    run.close();
  }
}

/**
 * @throws Error unless a request budget is given or the duration is in 1..600000 ms
 *   ({@link MAX_LEVEL_DURATION_MS})
 */
function checkSlice(durationMs: number, requests: number | undefined): void {
  if (requests === undefined && !(durationMs > 0 && durationMs <= MAX_LEVEL_DURATION_MS)) {
    throw new Error(`duration must be 1..${MAX_LEVEL_DURATION_MS} ms, got ${durationMs}`);
  }
}

/**
 * One level (target, operation, clients) held open: one keep-alive connection per client and one
 * HDR histogram that several measured slices add to, so that two systems can be measured in
 * alternating slices of the same level (bench/compare.ts --rounds) and each reported over all of
 * its slices. {@link result} gives the figures over every measured slice so far; warm-ups are not
 * recorded. Call {@link close} when done (closes the connections, frees the histogram).
 */
export class LevelRun {
  private readonly pools: Endpoint[];
  private readonly histogram: hdr.Histogram;
  private readonly bodies: Buffer[];
  private readonly path: string;
  private readonly check: (body: string, key: number) => string | null;
  private readonly errorKinds: Record<string, number> = {};
  private nextKey = 0;
  private ok = 0;
  private errors = 0;
  /** Measured wall time (ms) and generator CPU time (µs) summed over the slices. */
  private elapsedMs = 0;
  private cpuMicros = 0;

  /**
   * Opens the connections (lazily, on first use) of `opts.clients` clients spread round-robin
   * over `target.endpoints`.
   * @throws Error if clients is out of 1..4096 or the target has no endpoints
   */
  constructor(
    private readonly target: LoadTarget,
    private readonly operation: Operation,
    private readonly opts: Pick<LevelOptions, "clients" | "requestTimeoutMs">,
    private readonly w: Workload,
  ) {
    if (!Number.isInteger(opts.clients) || opts.clients < 1 || opts.clients > MAX_CLIENTS) {
      throw new Error(`clients must be 1..${MAX_CLIENTS}, got ${opts.clients}`);
    }
    if (target.endpoints.length === 0) throw new Error(`target ${target.name} has no endpoints`);
    this.path = operationPath(operation);
    this.bodies = operationBodies(w, operation);
    this.check =
      operation === "put" ? checkPut : (body: string, key: number) => checkRange(body, w.valueBase64[key]!);
    // One pool per endpoint, sized to the clients that use it: one connection per client.
    const n = target.endpoints.length;
    this.pools = target.endpoints.map((url, i) =>
      openEndpoint(url, Math.max(1, Math.floor(opts.clients / n) + (i < opts.clients % n ? 1 : 0))),
    );
    this.histogram = hdr.build({
      useWebAssembly: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
    });
  }

  /** Runs the clients for `ms` without recording anything (connections open, caches warm). */
  async warmUp(ms: number): Promise<void> {
    await this.drive(performance.now() + ms, Number.POSITIVE_INFINITY, false);
  }

  /**
   * Runs the clients for one measured slice: `durationMs`, or until `requests` requests completed
   * (errors included) when set, and adds its answers to the level's figures.
   * @throws Error if neither a duration in 1..600000 ms nor a request count is given
   */
  async measure(durationMs: number, requests?: number): Promise<void> {
    checkSlice(durationMs, requests);
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    await this.drive(
      start + (requests === undefined ? durationMs : MAX_LEVEL_DURATION_MS),
      requests ?? Number.POSITIVE_INFINITY,
      true,
    );
    this.elapsedMs += performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    this.cpuMicros += cpu.user + cpu.system;
  }

  /** The level's figures over every measured slice so far. */
  result(): LevelResult {
    const { ok, histogram, elapsedMs } = this;
    const ms = (p: number) => (ok > 0 ? histogram.getValueAtPercentile(p) / 1000 : Number.NaN);
    return {
      target: this.target.name,
      operation: this.operation,
      clients: this.opts.clients,
      endpoints: this.target.endpoints,
      ok,
      errors: this.errors,
      errorKinds: { ...this.errorKinds },
      elapsedMs,
      requestsPerSecond: elapsedMs > 0 ? ok / (elapsedMs / 1000) : Number.NaN,
      meanMs: ok > 0 ? histogram.mean / 1000 : Number.NaN,
      p50Ms: ms(50),
      p90Ms: ms(90),
      p99Ms: ms(99),
      p999Ms: ms(99.9),
      maxMs: ok > 0 ? histogram.maxValue / 1000 : Number.NaN,
      generatorCpuPercent: elapsedMs > 0 ? (this.cpuMicros / 1000 / elapsedMs) * 100 : Number.NaN,
    };
  }

  /** Closes every connection and frees the histogram. */
  close(): void {
    this.histogram.destroy();
    this.pools.forEach(closeEndpoint);
  }

  /** Runs every client until the deadline (ms, performance.now()) or until `budget` requests started. */
  private async drive(deadline: number, budget: number, record: boolean): Promise<void> {
    let left = budget;
    const client = async (pool: Endpoint): Promise<void> => {
      // Bounded: stops at the deadline or when the budget is spent; each request has a timeout.
      while (performance.now() < deadline && left > 0 && !isShuttingDown()) {
        left--;
        await this.oneRequest(pool, record);
      }
    };
    await Promise.all(
      Array.from({ length: this.opts.clients }, (_, i) => client(this.pools[i % this.pools.length]!)),
    );
  }

  private async oneRequest(pool: Endpoint, record: boolean): Promise<void> {
    const key = this.nextKey;
    this.nextKey = (this.nextKey + 1) % this.w.keyCount;
    const t0 = process.hrtime.bigint();
    let kind: string | null = null;
    try {
      const a = await postJson(pool, this.path, this.bodies[key]!, this.opts.requestTimeoutMs);
      if (a.status < 200 || a.status > 299) kind = `http ${a.status}: ${errorMessage(a.body)}`;
      else kind = this.check(a.body, key);
    } catch (err) {
      kind = (err as { code?: string }).code ?? String(err);
    }
    if (!record) return;
    if (kind === null) {
      this.ok++;
      this.histogram.recordValue(Math.max(1, Number((process.hrtime.bigint() - t0) / 1000n)));
    } else {
      this.errors++;
      this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
    }
  }
}

/** null when a put answer carries a header with a revision (etcd's PutResponse), else an error kind. */
function checkPut(body: string): string | null {
  try {
    const j = JSON.parse(body) as { header?: { revision?: unknown } };
    return j.header?.revision !== undefined ? null : "bad put response";
  } catch {
    return "put response not JSON";
  }
}

/** null when a range answer holds exactly the expected key's value, else an error kind. */
function checkRange(body: string, expectedValueBase64: string): string | null {
  try {
    const j = JSON.parse(body) as { kvs?: { value?: string }[] };
    const kv = j.kvs?.length === 1 ? j.kvs[0] : undefined;
    if (!kv) return "range response without the key";
    return kv.value === expectedValueBase64 ? null : "range response with a wrong value";
  } catch {
    return "range response not JSON";
  }
}

/** The message of an error body (gateway shape {"error","code","message"} or Cairn's {"error":{...}}). */
function errorMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { message?: unknown; error?: unknown };
    if (typeof j.message === "string") return j.message.slice(0, 120);
    if (typeof j.error === "string") return j.error.slice(0, 120);
    if (j.error && typeof j.error === "object") {
      const e = j.error as { code?: unknown; message?: unknown };
      return `${String(e.code)}: ${String(e.message)}`.slice(0, 120);
    }
  } catch {
    // not JSON
  }
  return body.slice(0, 120);
}

/** Parses "1,16,64,256" into client counts. @throws Error on anything but positive integers */
export function parseLevels(text: string): number[] {
  const levels = text.split(",").map((s) => Number(s.trim()));
  if (levels.length === 0 || levels.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_CLIENTS)) {
    throw new Error(
      `--levels must be a comma-separated list of integers in 1..${MAX_CLIENTS}, got "${text}"`,
    );
  }
  return levels;
}

async function main(): Promise<void> {
  const cmd = new Command("load")
    .description("closed-loop load on etcd's JSON gateway (/v3/kv/put, /v3/kv/range) of any endpoints")
    .requiredOption("--endpoints <urls>", "comma-separated client URLs (loopback http only)")
    .option("--name <name>", "target name in the report", "target")
    .option("--op <ops>", `operations: ${OPERATIONS.join(",")}`, OPERATIONS.join(","))
    .option("--levels <list>", "concurrent clients per level", "1,16,64,256")
    .option("--duration-ms <ms>", "measured time per level", "5000")
    .option("--requests <n>", "requests per level instead of a duration")
    .option("--warmup-ms <ms>", "unrecorded warm-up per level", "1000")
    .option("--timeout-ms <ms>", "per-request timeout", "10000")
    .option("--no-populate", "skip writing every key once before the first range level")
    .parse();
  const o = cmd.opts<{
    endpoints: string;
    name: string;
    op: string;
    levels: string;
    durationMs: string;
    requests?: string;
    warmupMs: string;
    timeoutMs: string;
    populate: boolean;
  }>();
  const ops = o.op.split(",").map((s) => s.trim()) as Operation[];
  for (const op of ops) if (!OPERATIONS.includes(op)) throw new Error(`unknown operation ${op}`);
  const target: LoadTarget = { name: o.name, endpoints: o.endpoints.split(",").map((s) => s.trim()) };
  const w = makeWorkload();
  if (o.populate && ops.some((op) => op !== "put")) await populate(target.endpoints[0]!, w);
  const results: LevelResult[] = [];
  for (const op of ops) {
    for (const clients of parseLevels(o.levels)) {
      const r = await runLevel(
        target,
        op,
        {
          clients,
          durationMs: Number(o.durationMs),
          requests: o.requests === undefined ? undefined : Number(o.requests),
          warmupMs: Number(o.warmupMs),
          requestTimeoutMs: Number(o.timeoutMs),
        },
        w,
      );
      process.stderr.write(`${op} clients=${clients}: ${r.requestsPerSecond.toFixed(0)} req/s\n`);
      results.push(r);
    }
  }
  printResults(results);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
