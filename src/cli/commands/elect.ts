/**
 * `cairn elect NAME [PROPOSAL] [-l]` (etcdctl 3.4 `elect`):
 * - with PROPOSAL: grants a lease (60 s, etcd's session default), keeps it alive, campaigns
 *   (POST /v1/elections/{name}/campaign, waiting as long as it takes), prints the leader key and
 *   value once elected (etcdctl: key line, value line; -w json: the campaign answer), stays leader
 *   until Ctrl-C, then resigns and revokes the lease (exit 0). If the lease is lost meanwhile:
 *   "elect: session expired", exit 1.
 * - without PROPOSAL, or with -l/--listen: observes the election (GET /v1/elections/{name}/observe)
 *   and prints each leader, and each value a leader proclaims, as it changes (key line, value
 *   line; -w json: `{"revision","kv"}` per line) until Ctrl-C. A dropped connection reconnects to
 *   the next endpoint (the current leader is not printed twice). etcdctl requires -l for this.
 */
import { campaign, observeLeaders, resign } from "../coordination-api.ts";
import { CommandFailed, UsageError } from "../errors.ts";
import { formatJson, formatKvs } from "../format.ts";
import { aborted, interruptSignal } from "../interrupt.ts";
import { type CommandContext, requireFormat } from "./context.ts";
import { keptLease, parseTtl, waitWhileKept } from "./lock.ts";

/** TTL (s) of an election's lease: etcd concurrency's default session TTL, which etcdctl elect uses. */
export const DEFAULT_ELECT_TTL_SECONDS = 60;

/** Flags of `elect`. */
export interface ElectFlags {
  listen?: boolean;
  ttl?: string;
}

/** `elect NAME [PROPOSAL]`. */
export async function runElect(
  ctx: CommandContext,
  name: string,
  proposal: string | undefined,
  flags: ElectFlags,
): Promise<void> {
  const format = requireFormat(ctx, "elect", ["simple", "json"]);
  if (name === "") throw new UsageError("election name must not be empty");
  const interrupt = interruptSignal(ctx.io);
  try {
    if (flags.listen || proposal === undefined) {
      await observeLeaders({
        endpoints: ctx.client.endpoints,
        name,
        signal: interrupt.signal,
        onLeader: (o) => ctx.io.stdout(format === "json" ? formatJson(o) : formatKvs([o.kv])),
      });
      return;
    }
    const ttl = flags.ttl !== undefined ? parseTtl("--ttl", flags.ttl) : DEFAULT_ELECT_TTL_SECONDS;
    const lease = await keptLease(ctx, ttl);
    let leader: Awaited<ReturnType<typeof campaign>>;
    try {
      leader = await waitWhileKept(interrupt.signal, lease, (signal) =>
        campaign(ctx.client.endpoints, name, lease.id, proposal, signal),
      );
      if (leader === undefined) {
        throw new CommandFailed(lease.isLost() ? "elect: session expired" : "context canceled");
      }
      ctx.io.stdout(
        format === "json"
          ? formatJson(leader)
          : formatKvs([
              { key: leader.leader.key, value: proposal, create_revision: 0, mod_revision: 0, version: 0 },
            ]),
      );
      await Promise.race([aborted(interrupt.signal), lease.lost]);
      if (lease.isLost()) throw new CommandFailed("elect: session expired");
      await resign(ctx.client, name, leader.leader);
    } finally {
      await lease.close();
    }
  } finally {
    interrupt.dispose();
  }
}
