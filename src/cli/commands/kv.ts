/**
 * `cairn put`, `cairn get`, `cairn del`: etcdctl's key-value verbs over the /v1 API.
 */
import { UsageError } from "../errors.ts";
import { formatDeleteSimple, formatGetSimple, formatJson, formatPutSimple } from "../format.ts";
import { deleteKeys, type GetOptions, getKeys, putKey } from "../kv-api.ts";
import { type CommandContext, parseCount, requireFormat } from "./context.ts";

/** Flags of `put`. */
export interface PutFlags {
  /** Lease id in hex, as etcdctl prints and takes it. */
  lease?: string;
  prevKv?: boolean;
  contentType?: string;
}

/**
 * Converts an etcdctl lease id (hex, up to 16 digits) to the contract's decimal form.
 * "0" means no lease.
 * @throws UsageError
 */
export function leaseHexToDecimal(raw: string): string | undefined {
  const text = raw.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) {
    throw new UsageError(`--lease: expected a lease id in hex (as 'lease grant' prints it), got '${raw}'`);
  }
  const id = BigInt(`0x${text}`);
  return id === 0n ? undefined : id.toString(10);
}

function requireKey(key: string, allowEmpty: boolean): void {
  if (key === "" && !allowEmpty) throw new UsageError("key must not be empty");
}

/** `put KEY [VALUE]`: the value comes from the argument or, when absent, from stdin (raw bytes). */
export async function runPut(
  ctx: CommandContext,
  key: string,
  value: string | undefined,
  flags: PutFlags,
): Promise<void> {
  const format = requireFormat(ctx, "put", ["simple", "json"]);
  requireKey(key, false);
  const bytes = value !== undefined ? Buffer.from(value, "utf8") : await ctx.io.readStdin();
  const lease = flags.lease !== undefined ? leaseHexToDecimal(flags.lease) : undefined;
  const res = await putKey(ctx.client, key, bytes, {
    ...(lease !== undefined ? { lease } : {}),
    ...(flags.prevKv ? { prevKv: true } : {}),
    ...(flags.contentType !== undefined ? { contentType: flags.contentType } : {}),
  });
  ctx.io.stdout(format === "json" ? formatJson(res) : formatPutSimple(res));
}

/** Flags of `get`. */
export interface GetFlags {
  prefix?: boolean;
  rev?: string;
  limit?: string;
  keysOnly?: boolean;
  countOnly?: boolean;
  printValueOnly?: boolean;
  consistency?: string;
}

/** Parses --consistency: etcdctl's "l" / "s", or the full words. @throws UsageError */
export function parseConsistency(raw: string): "linearizable" | "serializable" {
  const v = raw.trim().toLowerCase();
  if (v === "l" || v === "linearizable") return "linearizable";
  if (v === "s" || v === "serializable") return "serializable";
  throw new UsageError(`--consistency: expected 'l' (linearizable) or 's' (serializable), got '${raw}'`);
}

/** `get KEY [RANGE_END]`. An empty KEY with --prefix reads every key. */
export async function runGet(
  ctx: CommandContext,
  key: string,
  rangeEnd: string | undefined,
  flags: GetFlags,
): Promise<void> {
  const format = requireFormat(ctx, "get", ["simple", "json"]);
  requireKey(key, flags.prefix === true);
  if (flags.prefix && rangeEnd !== undefined)
    throw new UsageError("--prefix and RANGE_END cannot be used together");
  const rev = flags.rev !== undefined ? parseCount("--rev", flags.rev) : 0;
  const limit = flags.limit !== undefined ? parseCount("--limit", flags.limit) : 0;
  const opts: GetOptions = {
    ...(flags.prefix ? { prefix: true } : {}),
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
    ...(rev > 0 ? { rev } : {}),
    ...(limit > 0 ? { limit } : {}),
    ...(flags.keysOnly ? { keysOnly: true } : {}),
    ...(flags.countOnly ? { countOnly: true } : {}),
    ...(flags.consistency !== undefined ? { consistency: parseConsistency(flags.consistency) } : {}),
  };
  const res = await getKeys(ctx.client, key, opts);
  if (format === "json") {
    ctx.io.stdout(formatJson(res));
    return;
  }
  if (flags.countOnly) {
    ctx.io.stdout(`${res.count ?? res.kvs.length}\n`);
    return;
  }
  ctx.io.stdout(formatGetSimple(res, flags.printValueOnly === true));
}

/** Flags of `del`. */
export interface DelFlags {
  prefix?: boolean;
  prevKv?: boolean;
}

/** `del KEY`: prints the number of deleted keys (and their previous KVs with --prev-kv). */
export async function runDel(ctx: CommandContext, key: string, flags: DelFlags): Promise<void> {
  const format = requireFormat(ctx, "del", ["simple", "json"]);
  requireKey(key, flags.prefix === true);
  const res = await deleteKeys(ctx.client, key, {
    ...(flags.prefix ? { prefix: true } : {}),
    ...(flags.prevKv ? { prevKv: true } : {}),
  });
  ctx.io.stdout(format === "json" ? formatJson(res) : formatDeleteSimple(res));
}
