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
  if (!Number.isInteger(opts.clients) || opts.clients < 1 || opts.clients > MAX_CLIENTS) {
    throw new Error(`clients must be 1..${MAX_CLIENTS}, got ${opts.clients}`);
  }
  if (target.endpoints.length === 0) throw new Error(`target ${target.name} has no endpoints`);
  if (opts.requests === undefined && !(opts.durationMs > 0 && opts.durationMs <= MAX_LEVEL_DURATION_MS)) {
    throw new Error(`duration must be 1..${MAX_LEVEL_DURATION_MS} ms, got ${opts.durationMs}`);
  }
  const path = operationPath(operation);
  const bodies = operationBodies(w, operation);
  const check =
    operation === "put" ? checkPut : (body: string, key: number) => checkRange(body, w.valueBase64[key]!);

  // One pool per endpoint, sized to the clients that use it: one connection per client.
  const perEndpoint = target.endpoints.map(
    (_, i) =>
      Math.floor(opts.clients / target.endpoints.length) +
      (i < opts.clients % target.endpoints.length ? 1 : 0),
  );
  const pools: Endpoint[] = target.endpoints.map((url, i) => openEndpoint(url, Math.max(1, perEndpoint[i]!)));
  let nextKey = 0;
  const histogram = hdr.build({
    useWebAssembly: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const errorKinds: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let recording = false;
  let budget = Number.POSITIVE_INFINITY;
  let deadline = 0;

  const oneRequest = async (pool: Endpoint): Promise<void> => {
    const key = nextKey;
    nextKey = (nextKey + 1) % w.keyCount;
    const t0 = process.hrtime.bigint();
    let kind: string | null = null;
    try {
      const a = await postJson(pool, path, bodies[key]!, opts.requestTimeoutMs);
      if (a.status < 200 || a.status > 299) kind = `http ${a.status}: ${errorMessage(a.body)}`;
      else kind = check(a.body, key);
    } catch (err) {
      kind = (err as { code?: string }).code ?? String(err);
    }
    if (!recording) return;
    if (kind === null) {
      ok++;
      histogram.recordValue(Math.max(1, Number((process.hrtime.bigint() - t0) / 1000n)));
    } else {
      errors++;
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    }
  };

  const client = async (pool: Endpoint): Promise<void> => {
    // Bounded: stops at the deadline or when the request budget is spent; each request has a timeout.
    while (performance.now() < deadline && budget > 0 && !isShuttingDown()) {
      if (recording) budget--;
      await oneRequest(pool);
    }
  };
  const runAll = () =>
    Promise.all(Array.from({ length: opts.clients }, (_, i) => client(pools[i % pools.length]!)));

  try {
    if (opts.warmupMs > 0) {
      deadline = performance.now() + opts.warmupMs;
      await runAll();
    }
    recording = true;
    budget = opts.requests ?? Number.POSITIVE_INFINITY;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    deadline = opts.requests === undefined ? start + opts.durationMs : start + MAX_LEVEL_DURATION_MS;
    await runAll();
    const elapsedMs = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    const ms = (p: number) => (ok > 0 ? histogram.getValueAtPercentile(p) / 1000 : Number.NaN);
    return {
      target: target.name,
      operation,
      clients: opts.clients,
      endpoints: target.endpoints,
      ok,
      errors,
      errorKinds,
      elapsedMs,
      requestsPerSecond: ok / (elapsedMs / 1000),
      meanMs: ok > 0 ? histogram.mean / 1000 : Number.NaN,
      p50Ms: ms(50),
      p90Ms: ms(90),
      p99Ms: ms(99),
      p999Ms: ms(99.9),
      maxMs: ok > 0 ? histogram.maxValue / 1000 : Number.NaN,
      generatorCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    };
  } finally {
    histogram.destroy();
    pools.forEach(closeEndpoint);
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
