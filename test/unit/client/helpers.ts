/**
 * Shared setup of the client tests: a real single-member node (test/helpers/single-node.ts) whose
 * API app is served on loopback by the real client listener (src/server/client-listener.ts), on
 * port 0. Listeners can be closed (every connection is destroyed, as when a member dies) and
 * opened again on the same port, and several listeners can serve the same node (several
 * "endpoints" of one store, for failover tests).
 */
import type { Hono } from "hono";
import { afterAll, beforeAll } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import { CairnClient, type CairnClientOptions } from "../../../src/client/index.ts";
import { seededRandom } from "../../../src/client/transport.ts";
import { type ClientListener, listenClient } from "../../../src/server/client-listener.ts";
import type { CairnNode } from "../../../src/server/node.ts";
import { startSingleNode } from "../../helpers/single-node.ts";

/** One served node. */
export interface ServedNode {
  node: CairnNode;
  app: Hono;
  /** Opens a listener (on `port`, or a fresh one); returns it and its base URL. */
  listen(port?: number): Promise<{ listener: ClientListener; url: string }>;
  /** The base URL of the first listener. */
  url: string;
  /** Clients made by `client()`; closed after the file's tests. */
  clients: CairnClient[];
  /** A client of this node with fast test retry settings (seeded jitter). */
  client(opts?: Partial<CairnClientOptions>): CairnClient;
}

/** Heartbeat interval of the test app's SSE watches (ms). */
export const TEST_HEARTBEAT_MS = 100;

/** Starts one node served on a loopback port for the calling test file. */
export function useServedNode(): ServedNode {
  const served = { clients: [] as CairnClient[] } as unknown as ServedNode;
  const listeners: ClientListener[] = [];
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const n = await startSingleNode();
    stop = n.stop;
    served.node = n.node;
    served.app = createApp({
      kv: n.kv,
      cluster: n.node,
      maxRequestBytes: 1024 * 1024,
      version: "test",
      watchHeartbeatMs: TEST_HEARTBEAT_MS,
    });
    served.listen = async (port = 0) => {
      const listener = await listenClient(served.app, `http://127.0.0.1:${port}`);
      listeners.push(listener);
      return { listener, url: `http://127.0.0.1:${listener.port}` };
    };
    served.url = (await served.listen()).url;
    let seed = 1;
    served.client = (opts = {}) => {
      const c = new CairnClient({
        endpoints: [served.url],
        requestTimeoutMs: 5_000,
        watchIdleTimeoutMs: 2_000,
        retry: { initialBackoffMs: 10, maxBackoffMs: 100, random: seededRandom(seed++) },
        ...opts,
      });
      served.clients.push(c);
      return c;
    };
  });
  afterAll(async () => {
    for (const c of served.clients) c.close();
    await Promise.all(listeners.map((l) => l.close()));
    await stop?.();
  });
  return served;
}

/** Polls `check` every 10 ms until it returns true; throws after `timeoutMs` with `what`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves after `ms`. */
export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
