/**
 * Service registration and discovery (the etcd pattern of "register under a TTL lease with
 * heartbeats, discover with a prefix watch"). An instance is the key
 * `services/<service>/<instanceId>` holding a value (an address, or JSON), attached to a lease
 * kept alive by the client: when the process dies, the key disappears after the TTL; when the
 * lease is lost while the process lives (a partition longer than the TTL, an expiry during a
 * leader change), the helper grants a new lease and puts the key again.
 */
import type { CairnClient } from "./client.ts";
import type { ConfigChangeInfo, ConfigView, ConfigViewOptions } from "./config-view.ts";
import { deferred } from "./deferred.ts";
import { CairnClientError, isClientError } from "./errors.ts";
import type { Lease } from "./lease.ts";
import { sleep } from "./transport.ts";

/** Prefix of every service key. */
export const SERVICES_PREFIX = "services/";

/** Options of register(). */
export interface RegisterOptions {
  /** Lease TTL in seconds (default 10). */
  ttl?: number;
  /** Content-Type of the value (e.g. application/json: checked by the server). */
  contentType?: string;
}

/** The key of an instance. */
export function serviceKey(service: string, instanceId: string): string {
  return `${SERVICES_PREFIX}${service}/${instanceId}`;
}

function checkName(what: string, name: string): void {
  if (typeof name !== "string" || name === "" || name.includes("/")) {
    throw new CairnClientError(
      "invalid_argument",
      `${what} must be a non-empty name without "/", got ${JSON.stringify(name)}`,
    );
  }
}

/** A registered instance, kept registered until close(). */
export class Registration {
  /** `services/<service>/<instanceId>`. */
  readonly key: string;
  /** Times the key was put (1 + re-registrations after a lost lease). */
  registrations = 0;
  /** Resolves once the key is first written; rejects if closed first or on a non-retryable error. */
  readonly ready: Promise<void>;
  /** Resolves when the registration stopped (close(), client closed, or a non-retryable error). */
  readonly done: Promise<{ error?: unknown }>;
  private lease: Lease | undefined;
  private readonly stop = new AbortController();
  private readonly readyD = deferred<void>();
  private readonly doneD = deferred<{ error?: unknown }>();
  private readonly untrack: () => void;

  /** @internal use CairnClient.register */
  constructor(
    private readonly client: CairnClient,
    service: string,
    instanceId: string,
    private readonly value: string,
    private readonly opts: RegisterOptions,
  ) {
    checkName("service", service);
    checkName("instanceId", instanceId);
    this.key = serviceKey(service, instanceId);
    this.ready = this.readyD.promise;
    this.ready.catch(() => {});
    this.done = this.doneD.promise;
    this.untrack = client.track(() => this.stop.abort());
    void this.run();
  }

  /** The lease the key is attached to now (undefined between a loss and the next grant). */
  get leaseId(): number | undefined {
    return this.lease?.active ? this.lease.id : undefined;
  }

  /** Deregisters: stops keep-alive and revokes the lease, so the key is deleted at once. */
  async close(): Promise<void> {
    this.stop.abort();
    const lease = this.lease;
    this.lease = undefined;
    await this.done;
    if (lease) await lease.revoke().catch(() => {});
  }

  private async run(): Promise<void> {
    let failures = 0;
    const signal = this.stop.signal;
    const stopped = new Promise<undefined>((resolve) => {
      if (signal.aborted) resolve(undefined);
      else signal.addEventListener("abort", () => resolve(undefined), { once: true });
    });
    while (!signal.aborted) {
      let lease: Lease | undefined;
      try {
        lease = await this.client.grant(this.opts.ttl ?? 10);
        if (signal.aborted) {
          await lease.revoke().catch(() => {});
          break;
        }
        this.lease = lease;
        await this.putKey(lease.id, signal);
        this.registrations++;
        failures = 0;
        this.readyD.resolve();
        const end = await Promise.race([lease.ended, stopped]);
        if (end === undefined || signal.aborted) break;
        // Lost (expired / not renewed in time): register again with a new lease.
      } catch (err) {
        if (signal.aborted || isClientError(err, "closed")) break;
        lease?.close();
        const retry =
          isClientError(err) &&
          (err.retryable ||
            err.code === "unavailable" ||
            err.code === "unknown_outcome" ||
            err.code === "lease_not_found");
        if (!retry) {
          this.untrack();
          this.readyD.reject(err);
          this.doneD.resolve({ error: err });
          return;
        }
        await sleep(this.client.transport.backoff.delayMs(failures++), signal).catch(() => {});
      }
    }
    this.untrack();
    this.readyD.reject(new CairnClientError("closed", "the registration was closed"));
    this.doneD.resolve({});
  }

  /**
   * Puts the key under `leaseId`. A put that fails with an unknown outcome is put again: writing
   * the same value under the same lease twice leaves the same state (this helper's one deliberate
   * repeat of a write; the extra revision is harmless for a registration).
   */
  private async putKey(leaseId: number, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.put(this.key, this.value, {
          lease: leaseId,
          ...(this.opts.contentType ? { contentType: this.opts.contentType } : {}),
        });
        return;
      } catch (err) {
        if (!isClientError(err, "unknown_outcome") || signal.aborted || attempt >= 5) throw err;
        await sleep(this.client.transport.backoff.delayMs(attempt), signal);
      }
    }
  }
}

/** Called with every instance (instanceId → value), the ids that changed, and why. */
export type DiscoveryListener = (
  instances: ReadonlyMap<string, string>,
  changed: string[],
  info: ConfigChangeInfo,
) => void | Promise<void>;

/** A live list of a service's instances. */
export interface Discovery {
  /** instanceId → value. */
  readonly instances: ReadonlyMap<string, string>;
  /** The underlying prefix view (keys are full keys). */
  readonly view: ConfigView;
  readonly ready: Promise<void>;
  close(): void;
}

/** A watchConfig of `services/<service>/` reported by instance id. @internal use CairnClient.discover */
export function discover(
  client: CairnClient,
  service: string,
  onChange: DiscoveryListener,
  opts: ConfigViewOptions,
): Discovery {
  checkName("service", service);
  const prefix = `${SERVICES_PREFIX}${service}/`;
  const instances = new Map<string, string>();
  const view = client.watchConfig(
    prefix,
    (all, changed, info) => {
      instances.clear();
      for (const [k, v] of all) instances.set(k.slice(prefix.length), v);
      return onChange(
        instances,
        changed.map((k) => k.slice(prefix.length)),
        info,
      );
    },
    opts,
  );
  return {
    instances,
    view,
    ready: view.ready,
    close: () => view.close(),
  };
}
