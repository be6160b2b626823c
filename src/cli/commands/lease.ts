/**
 * `cairn lease grant|revoke|keep-alive|timetolive|list` and `cairn compaction` (etcdctl 3.4's
 * verbs, arguments and simple output; -w json prints the API's answers). Lease ids are given and
 * printed in hex, as etcdctl does (`lease grant` prints the id `put --lease` takes).
 */
import { CairnError } from "../../util/errors.ts";
import { UsageError } from "../errors.ts";
import {
  formatCompaction,
  formatJson,
  formatKeepAlive,
  formatKeepAliveEnded,
  formatLeaseGrant,
  formatLeaseList,
  formatLeaseRevoke,
  formatTimeToLive,
} from "../format.ts";
import {
  compact,
  grantLease,
  keepAliveOnce,
  keepAliveStream,
  leaseTimeToLive,
  listLeases,
  revokeLease,
} from "../lease-api.ts";
import { type CommandContext, requireFormat } from "./context.ts";

/**
 * Parses a lease id argument: 1 to 16 hex digits (etcdctl parses it with base 16), at most
 * 2^53-1 (Cairn's lease ids stay exact as JSON numbers).
 * @throws UsageError as etcdctl words it ("bad lease ID arg ..., expecting ID in Hex")
 */
export function parseLeaseIdArg(raw: string): number {
  const text = raw.trim().replace(/^0x/i, "");
  const id = /^[0-9a-fA-F]{1,16}$/.test(text) ? Number.parseInt(text, 16) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new UsageError(`bad lease ID arg '${raw}', expecting ID in Hex (as 'lease grant' prints it)`);
  }
  return id;
}

/** `lease grant TTL`: TTL in seconds (raised by the server to its minimum, etcd's rule). */
export async function runLeaseGrant(ctx: CommandContext, ttlArg: string): Promise<void> {
  const format = requireFormat(ctx, "lease grant", ["simple", "json"]);
  const ttl = /^\d{1,16}$/.test(ttlArg.trim()) ? Number(ttlArg.trim()) : Number.NaN;
  if (!Number.isSafeInteger(ttl) || ttl < 1) {
    throw new UsageError(`bad TTL '${ttlArg}' (expected a positive number of seconds)`);
  }
  const res = await grantLease(ctx.client, ttl);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatLeaseGrant(res.id, res.ttl));
}

/** `lease revoke ID`: revokes the lease and deletes its keys. */
export async function runLeaseRevoke(ctx: CommandContext, idArg: string): Promise<void> {
  const format = requireFormat(ctx, "lease revoke", ["simple", "json"]);
  const id = parseLeaseIdArg(idArg);
  const res = await revokeLease(ctx.client, id);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatLeaseRevoke(id));
}

/** Flags of `lease timetolive`. */
export interface TimeToLiveFlags {
  keys?: boolean;
}

/** `lease timetolive ID [--keys]`. */
export async function runLeaseTimeToLive(
  ctx: CommandContext,
  idArg: string,
  flags: TimeToLiveFlags,
): Promise<void> {
  const format = requireFormat(ctx, "lease timetolive", ["simple", "json"]);
  const id = parseLeaseIdArg(idArg);
  const withKeys = flags.keys === true;
  const res = await leaseTimeToLive(ctx.client, id, withKeys);
  if (format === "json") {
    ctx.io.stdout(formatJson(res ?? { id, ttl: -1, granted_ttl: 0 }));
    return;
  }
  const keys =
    res && withKeys
      ? (res.keys ?? []).map((k) =>
          res.keys_encoding === "base64" ? Buffer.from(k, "base64").toString("utf8") : k,
        )
      : undefined;
  ctx.io.stdout(formatTimeToLive(id, res, keys));
}

/** `lease list`. */
export async function runLeaseList(ctx: CommandContext): Promise<void> {
  const format = requireFormat(ctx, "lease list", ["simple", "json"]);
  const res = await listLeases(ctx.client);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatLeaseList(res.leases.map((l) => l.id)));
}

/** Flags of `lease keep-alive`. */
export interface KeepAliveFlags {
  once?: boolean;
}

/**
 * `lease keep-alive ID [--once]`: renews the lease and prints each renewal. With --once one
 * renewal; otherwise the streaming keep-alive runs until the lease is gone ("lease … expired or
 * revoked.", exit 0, as etcdctl) or the command is interrupted.
 */
export async function runLeaseKeepAlive(
  ctx: CommandContext,
  idArg: string,
  flags: KeepAliveFlags,
): Promise<void> {
  const format = requireFormat(ctx, "lease keep-alive", ["simple", "json"]);
  const id = parseLeaseIdArg(idArg);
  const print = (r: { id: number; ttl: number }) =>
    ctx.io.stdout(format === "json" ? formatJson(r) : formatKeepAlive(r.id, r.ttl));
  if (flags.once) {
    print(await keepAliveOnce(ctx.client, id));
    return;
  }
  const outcome = await keepAliveStream(id, {
    endpoints: ctx.client.endpoints,
    onAnswer: print,
    ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
  });
  if (outcome === "expired" && format === "simple") ctx.io.stdout(formatKeepAliveEnded(id));
}

/** Flags of `compaction`. */
export interface CompactionFlags {
  physical?: boolean;
}

/** `compaction REV [--physical]`: compacts history up to REV ("compacted revision REV"). */
export async function runCompaction(
  ctx: CommandContext,
  revArg: string,
  flags: CompactionFlags,
): Promise<void> {
  const format = requireFormat(ctx, "compaction", ["simple", "json"]);
  const rev = /^\d{1,16}$/.test(revArg.trim()) ? Number(revArg.trim()) : Number.NaN;
  if (!Number.isSafeInteger(rev) || rev < 1) {
    throw new UsageError(`bad revision '${revArg}' (expected a positive integer)`);
  }
  try {
    const res = await compact(ctx.client, rev, flags.physical === true);
    ctx.io.stdout(format === "json" ? formatJson(res) : formatCompaction(res.compact_revision));
  } catch (e) {
    // etcdctl prints gRPC's message; the /v1 one lacks the "etcdserver: " prefix the gateway adds.
    if (e instanceof CairnError && (e.code === "compacted" || e.code === "future_revision")) {
      throw new CairnError(e.code, `etcdserver: ${e.message}`);
    }
    throw e;
  }
}
