/**
 * `cairn lock NAME [command arg…] [--ttl N]` (etcdctl 3.4 `lock`): grants a lease of --ttl seconds
 * (etcdctl's default 10), keeps it alive, and acquires lock NAME with it (POST /v1/locks/{name},
 * waiting as long as it takes; Ctrl-C while waiting gives up).
 * - Without a command: prints the lock key as etcdctl does (the key line and an empty value line;
 *   -w json: the lock answer `{"name","key","revision","fencing_token","lease"}`), holds the lock
 *   until Ctrl-C, then releases it (exit 0). If the lease is lost meanwhile: "session expired",
 *   exit 1.
 * - With a command: runs it with stdin/stdout/stderr inherited and, in its environment,
 *   ETCD_LOCK_KEY and ETCD_LOCK_REV (etcdctl's: the key and the revision of the lock answer),
 *   CAIRN_LOCK_KEY and CAIRN_LOCK_REV (the same values) and CAIRN_LOCK_FENCING_TOKEN (the
 *   create_revision of the key, for a txn or a resource that checks fencing tokens); releases the
 *   lock when it exits, and exits with its exit code (128 + N when killed by signal N). etcdctl
 *   exits 1 on any failure of the command instead. Put `--` before a command whose own options
 *   could be taken as cairn's (`cairn lock jobs -- sh -c 'make -j4'`).
 * Whatever happens, the lease is revoked at the end (etcdctl closes its session so), which
 * deletes the lock key if the release itself failed.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { acquireLock, type LockJson, releaseLock } from "../coordination-api.ts";
import { CommandFailed, ExitStatus, UsageError } from "../errors.ts";
import { formatJson, formatKvs } from "../format.ts";
import { aborted, interruptSignal } from "../interrupt.ts";
import { grantLease, keepAliveStream, revokeLease } from "../lease-api.ts";
import { type CommandContext, requireFormat } from "./context.ts";

/** etcdctl 3.4 `lock --ttl` default (seconds). */
export const DEFAULT_LOCK_TTL_SECONDS = 10;

/** Flags of `lock`. */
export interface LockFlags {
  ttl?: string;
}

/** A positive number of seconds. @throws UsageError */
export function parseTtl(label: string, raw: string): number {
  const ttl = /^\d{1,10}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(ttl) || ttl < 1) {
    throw new UsageError(`${label}: expected a positive number of seconds, got '${raw}'`);
  }
  return ttl;
}

/** A lease kept alive in the background until stop(); `lost` resolves if it expires. */
export interface KeptLease {
  id: number;
  lost: Promise<void>;
  isLost(): boolean;
  /** Stops the keep-alive and revokes the lease (best effort). */
  close(): Promise<void>;
}

/** Grants a lease of `ttl` seconds and keeps it alive (shared by `lock` and `elect`). */
export async function keptLease(ctx: CommandContext, ttl: number): Promise<KeptLease> {
  const { id } = await grantLease(ctx.client, ttl);
  const stop = new AbortController();
  let lostFlag = false;
  const lost = keepAliveStream(id, {
    endpoints: ctx.client.endpoints,
    onAnswer: () => {},
    signal: stop.signal,
  })
    .then((outcome) => outcome === "expired")
    .catch(() => true)
    .then((isLost) => {
      if (isLost) lostFlag = true;
      return isLost ? undefined : new Promise<void>(() => {});
    });
  return {
    id,
    lost,
    isLost: () => lostFlag,
    close: async () => {
      stop.abort();
      await revokeLease(ctx.client, id).catch(() => {});
    },
  };
}

/**
 * Runs `wait` with a signal that aborts on `interrupt` (Ctrl-C) or when `lease` is lost: waiting
 * for a lock or for leadership ends either way. The Ctrl-C listener is removed afterwards.
 */
export async function waitWhileKept<T>(
  interrupt: AbortSignal,
  lease: KeptLease,
  wait: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  interrupt.addEventListener("abort", onInterrupt, { once: true });
  void lease.lost.then(() => stop.abort());
  try {
    return await wait(stop.signal);
  } finally {
    interrupt.removeEventListener("abort", onInterrupt);
  }
}

/** Runs `command` with `env`; resolves with its exit code (128 + signal number when killed). */
function runCommand(command: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: "inherit", env });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

/** The environment of the command run under the lock. */
export function lockEnv(held: LockJson): Record<string, string> {
  return {
    ETCD_LOCK_KEY: held.key,
    ETCD_LOCK_REV: String(held.revision),
    CAIRN_LOCK_KEY: held.key,
    CAIRN_LOCK_REV: String(held.revision),
    CAIRN_LOCK_FENCING_TOKEN: String(held.fencing_token),
  };
}

/** `lock NAME [command…]`. */
export async function runLock(
  ctx: CommandContext,
  name: string,
  command: readonly string[],
  flags: LockFlags,
): Promise<void> {
  const format = requireFormat(ctx, "lock", ["simple", "json"]);
  if (name === "") throw new UsageError("lock name must not be empty");
  const ttl = flags.ttl !== undefined ? parseTtl("--ttl", flags.ttl) : DEFAULT_LOCK_TTL_SECONDS;
  const interrupt = interruptSignal(ctx.io);
  const lease = await keptLease(ctx, ttl);
  let held: LockJson | undefined;
  try {
    held = await waitWhileKept(interrupt.signal, lease, (signal) =>
      acquireLock(ctx.client.endpoints, name, lease.id, signal),
    );
    if (held === undefined) {
      throw new CommandFailed(lease.isLost() ? "session expired" : "context canceled");
    }
    if (command.length > 0) {
      const code = await runCommand(command, { ...ctx.io.env, ...lockEnv(held) });
      if (lease.isLost()) ctx.io.stderr("Error: the lock's lease expired while the command ran\n");
      await releaseLock(ctx.client, name, held.key);
      held = undefined;
      if (code !== 0) throw new ExitStatus(code);
      return;
    }
    ctx.io.stdout(
      format === "json"
        ? formatJson(held)
        : formatKvs([{ key: held.key, value: "", create_revision: 0, mod_revision: 0, version: 0 }]),
    );
    await Promise.race([aborted(interrupt.signal), lease.lost]);
    if (lease.isLost()) throw new CommandFailed("session expired");
    await releaseLock(ctx.client, name, held.key);
    held = undefined;
  } finally {
    if (held !== undefined) await releaseLock(ctx.client, name, held.key).catch(() => {});
    await lease.close();
    interrupt.dispose();
  }
}
