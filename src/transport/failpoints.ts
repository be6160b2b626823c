/**
 * Test failpoints of the peer transport: drop the Raft messages this member sends to, or receives
 * from, chosen peers, so that real-process tests can make network partitions, symmetric (both
 * directions) or asymmetric (one direction), exactly and without a proxy (test/nemesis).
 *
 * ENABLED ONLY WHEN THE ENVIRONMENT VARIABLE `CAIRN_TEST_FAILPOINTS_FILE` NAMES A FILE. Without it
 * {@link failpointsFromEnv} returns null and the transport behaves as if this module did not exist:
 * no timer, no file access, no message looked at. No flag, config file or API turns it on. The
 * variable is taken out of process.env when this module loads, before `cairn serve` checks that
 * every CAIRN_* variable is one of its flags (see `fileAtLoad`).
 *
 * The file is small JSON, re-read every {@link FAILPOINTS_POLL_MS} ms:
 * ```json
 * {"dropTo": ["<member id>", ...], "dropFrom": ["<member id>", ...]}
 * ```
 * - `dropTo`: Raft messages to these peers are dropped before they are queued (a MsgSnap is reported
 *   failed to Raft, as an undeliverable snapshot is).
 * - `dropFrom`: Raft messages from these peers are dropped on arrival (a snapshot request is
 *   refused with 503).
 * Both fields are optional; a missing or empty file drops nothing. A dropped message vanishes
 * silently, like a packet on a black-holed link: the sender is not told (Raft's own timeouts and
 * retries notice). Writers should replace the file atomically (write a temporary file, rename it).
 * A file that does not parse, or is larger than {@link FAILPOINTS_MAX_BYTES}, keeps the previous
 * rules and is logged once at warn; a change of rules is logged at warn with the drops so far.
 */
import { open } from "node:fs/promises";
import type { Logger } from "pino";
import type { NodeId } from "../raft/types.ts";

/** The environment variable that names the failpoints file; unset (or empty) = failpoints off. */
export const FAILPOINTS_FILE_ENV = "CAIRN_TEST_FAILPOINTS_FILE";

/** Interval between two reads of the failpoints file (ms): a change takes effect within about this. */
export const FAILPOINTS_POLL_MS = 50;

/** Largest failpoints file read (bytes); a larger one is refused (keeps each read cheap and bounded). */
export const FAILPOINTS_MAX_BYTES = 64 * 1024;

/** Most member ids in one list of the file (a cluster has a handful of members). */
const MAX_IDS = 1024;

/** Which peers' Raft messages are dropped, per direction. */
export interface FailpointRules {
  /** Member ids whose messages from this member are dropped. */
  dropTo: ReadonlySet<NodeId>;
  /** Member ids whose messages to this member are dropped. */
  dropFrom: ReadonlySet<NodeId>;
}

/** Rules that drop nothing. */
export const NO_FAILPOINTS: FailpointRules = { dropTo: new Set(), dropFrom: new Set() };

/**
 * Parses the text of a failpoints file (see the module comment). Empty or blank text means no rules.
 * @throws SyntaxError when the text is not JSON
 * @throws TypeError when it is not an object whose `dropTo` / `dropFrom` (optional) are arrays of
 *   at most 1024 strings, or when it has other fields (a typo must not silently drop nothing)
 */
export function parseFailpoints(text: string): FailpointRules {
  if (text.trim() === "") return NO_FAILPOINTS;
  const json: unknown = JSON.parse(text);
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError("failpoints file must hold a JSON object");
  }
  for (const field of Object.keys(json)) {
    if (field !== "dropTo" && field !== "dropFrom") {
      throw new TypeError(`unknown failpoints field "${field}" (allowed: dropTo, dropFrom)`);
    }
  }
  const ids = (field: "dropTo" | "dropFrom"): Set<NodeId> => {
    const v = (json as Record<string, unknown>)[field];
    if (v === undefined) return new Set();
    if (!Array.isArray(v) || v.length > MAX_IDS || !v.every((x) => typeof x === "string")) {
      throw new TypeError(`failpoints "${field}" must be an array of at most ${MAX_IDS} member id strings`);
    }
    return new Set(v as string[]);
  };
  return { dropTo: ids("dropTo"), dropFrom: ids("dropFrom") };
}

/** Counters of messages dropped by failpoints since the transport started. */
export interface FailpointStats {
  droppedTo: number;
  droppedFrom: number;
  /** Reads of the file that failed (I/O error, too large, malformed). */
  badReads: number;
}

/** Options of {@link PeerFailpoints}. */
export interface PeerFailpointsOptions {
  /** Interval between reads in ms; default {@link FAILPOINTS_POLL_MS}. */
  pollMs?: number;
  /** Where rule changes and bad files are logged (warn); none when absent. */
  logger?: Pick<Logger, "warn">;
}

/**
 * Failpoints read from one file (see the module comment). Call {@link start} to poll, {@link close}
 * to stop; {@link dropsTo} / {@link dropsFrom} are cheap set lookups on the last good rules and
 * count what they drop.
 */
export class PeerFailpoints {
  private rules: FailpointRules = NO_FAILPOINTS;
  private lastText = "";
  private lastError = "";
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private closed = false;
  private readonly counters: FailpointStats = { droppedTo: 0, droppedFrom: 0, badReads: 0 };
  private readonly pollMs: number;

  /**
   * @param file path of the failpoints file (it need not exist yet)
   * @throws RangeError when `pollMs` is not a positive integer
   */
  constructor(
    readonly file: string,
    private readonly opts: PeerFailpointsOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? FAILPOINTS_POLL_MS;
    if (!Number.isSafeInteger(this.pollMs) || this.pollMs < 1) {
      throw new RangeError(`failpoints pollMs must be a positive integer, got ${opts.pollMs}`);
    }
  }

  /** Reads the file now and then every `pollMs` ms (the timer does not keep the process alive). */
  async start(): Promise<void> {
    if (this.closed || this.timer !== null) return;
    this.timer = setInterval(() => void this.refresh(), this.pollMs);
    this.timer.unref();
    await this.refresh();
  }

  /** Stops polling; the rules in force stay (and are no longer updated). */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** True (and counted) when a message to `peer` must be dropped. */
  dropsTo(peer: NodeId): boolean {
    if (!this.rules.dropTo.has(peer)) return false;
    this.counters.droppedTo++;
    return true;
  }

  /** True (and counted) when a message from `peer` must be dropped. */
  dropsFrom(peer: NodeId): boolean {
    if (!this.rules.dropFrom.has(peer)) return false;
    this.counters.droppedFrom++;
    return true;
  }

  /** The rules in force. */
  current(): FailpointRules {
    return this.rules;
  }

  /** Counters since creation. */
  stats(): FailpointStats {
    return { ...this.counters };
  }

  /**
   * Reads the file once (a read already in flight is joined, never doubled). Never throws: a
   * missing file means no rules; a bad one keeps the previous rules.
   */
  refresh(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    let text: string;
    try {
      text = await readBounded(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") text = "";
      else return this.bad(`cannot read failpoints file: ${(err as Error).message}`);
    }
    if (this.closed || text === this.lastText) return;
    let rules: FailpointRules;
    try {
      rules = parseFailpoints(text);
    } catch (err) {
      return this.bad(`malformed failpoints file: ${(err as Error).message}`);
    }
    this.lastText = text;
    this.lastError = "";
    this.rules = rules;
    this.opts.logger?.warn(
      {
        file: this.file,
        dropTo: [...rules.dropTo],
        dropFrom: [...rules.dropFrom],
        droppedSoFar: this.stats(),
      },
      "test failpoints changed (CAIRN_TEST_FAILPOINTS_FILE)",
    );
  }

  private bad(message: string): void {
    this.counters.badReads++;
    if (message === this.lastError) return;
    this.lastError = message;
    this.opts.logger?.warn({ file: this.file }, `${message}; keeping the previous rules`);
  }
}

/** Reads at most FAILPOINTS_MAX_BYTES of `file`. @throws Error when it is larger, or on an I/O error */
async function readBounded(file: string): Promise<string> {
  const fh = await open(file, "r");
  try {
    const { size } = await fh.stat();
    if (size > FAILPOINTS_MAX_BYTES) throw new Error(`larger than ${FAILPOINTS_MAX_BYTES} bytes`);
    // One byte more than the size: a file that grew since the stat is noticed, still bounded.
    const buf = Buffer.allocUnsafe(size + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > size) throw new Error("file changed while being read");
    return buf.toString("utf8", 0, n);
  } finally {
    await fh.close();
  }
}

/**
 * The value of `CAIRN_TEST_FAILPOINTS_FILE` when this module was loaded, which is before `cairn serve`
 * parses its configuration (static imports run first). The variable is then removed from
 * process.env, because `cairn serve` refuses every CAIRN_* variable that is not one of its flags
 * (src/server/config.ts mergeEnv), and this one is deliberately no flag. Once config.ts skips it,
 * this capture can go.
 */
const fileAtLoad = takeFromProcessEnv();

function takeFromProcessEnv(): string | undefined {
  const file = process.env[FAILPOINTS_FILE_ENV];
  delete process.env[FAILPOINTS_FILE_ENV];
  return file === "" ? undefined : file;
}

/**
 * The failpoints named by `CAIRN_TEST_FAILPOINTS_FILE`, polling already started; null (and nothing
 * started) when the variable is unset or empty, which is always the case outside tests. With the
 * default `env` (process.env) the value captured when this module was loaded counts too.
 * @param logger where "failpoints are on", rule changes and bad files are logged (warn)
 * @param env the environment to read
 */
export function failpointsFromEnv(
  logger?: Pick<Logger, "warn">,
  env: NodeJS.ProcessEnv = process.env,
): PeerFailpoints | null {
  const file = env[FAILPOINTS_FILE_ENV] || (env === process.env ? fileAtLoad : undefined);
  if (file === undefined || file === "") return null;
  const fp = new PeerFailpoints(file, logger ? { logger } : {});
  logger?.warn({ file }, `test failpoints are on (${FAILPOINTS_FILE_ENV}); never set it in production`);
  void fp.start();
  return fp;
}
