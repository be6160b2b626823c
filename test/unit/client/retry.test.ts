/**
 * The client's failover and retry policy, against a scripted fake fetch (test-only; the product
 * code talks to the real server): which failures are retried for reads and for writes, when a
 * write fails with unknown_outcome instead, endpoint rotation, the bounded exponential back-off
 * with seeded jitter, and the retry-safe writes (grant with a client id, revoke).
 */
import { describe, expect, it } from "vitest";
import { CairnClient, CairnClientError, NO_EFFECT_CODES, op } from "../../../src/client/index.ts";
import { Backoff, seededRandom } from "../../../src/client/transport.ts";

type Step = { status: number; body: unknown } | { refuse: true } | { reset: true } | { hang: true };

interface Seen {
  endpoint: string;
  method: string;
  path: string;
  body: string | undefined;
}

/** A fetch that answers each request with the next scripted step. */
function scripted(steps: Step[]) {
  const seen: Seen[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const body =
      init?.body === undefined
        ? undefined
        : typeof init.body === "string"
          ? init.body
          : new TextDecoder().decode(init.body as Uint8Array);
    seen.push({ endpoint: url.origin, method: init?.method ?? "GET", path: url.pathname + url.search, body });
    const step = steps.shift();
    if (!step) throw new Error("no scripted step left");
    if ("refuse" in step) {
      throw Object.assign(new TypeError("fetch failed"), {
        cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      });
    }
    if ("reset" in step) {
      throw Object.assign(new TypeError("fetch failed"), {
        cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
      });
    }
    if ("hang" in step) {
      return new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason));
      });
    }
    return new Response(JSON.stringify(step.body), {
      status: step.status,
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
  return { fetchFn, seen };
}

const ENDPOINTS = ["http://a:2379", "http://b:2379", "http://c:2379"];

function err(status: number, code: string) {
  return { status, body: { error: { code, message: code } } };
}

const RANGE_OK = { status: 200, body: { revision: 9, kvs: [], more: false, count: 0 } };
const PUT_OK = { status: 200, body: { revision: 10 } };

function client(steps: Step[], extra: Partial<ConstructorParameters<typeof CairnClient>[0]> = {}) {
  const s = scripted(steps);
  const c = new CairnClient({
    endpoints: ENDPOINTS,
    fetch: s.fetchFn,
    requestTimeoutMs: 200,
    retry: { maxAttempts: 4, initialBackoffMs: 1, maxBackoffMs: 4, random: seededRandom(7) },
    ...extra,
  });
  return { c, seen: s.seen };
}

describe("retry policy", () => {
  it("a read moves to the next endpoint after a 503 and stays there", async () => {
    const { c, seen } = client([err(503, "no_leader"), RANGE_OK, RANGE_OK]);
    expect((await c.get("k")).revision).toBe(9);
    expect(seen.map((s) => s.endpoint)).toEqual(["http://a:2379", "http://b:2379"]);
    expect(c.endpoint).toBe("http://b:2379");
    await c.get("k");
    expect(seen[2]!.endpoint).toBe("http://b:2379");
  });

  it("a read is retried after a connection lost mid-request and after a timeout", async () => {
    const { c, seen } = client([{ reset: true }, { hang: true }, err(503, "timeout"), RANGE_OK]);
    const r = await c.get("k");
    expect(r.revision).toBe(9);
    expect(seen.map((s) => s.endpoint)).toEqual([
      "http://a:2379",
      "http://b:2379",
      "http://c:2379",
      "http://a:2379",
    ]);
  });

  it("a read that keeps failing ends with the last error after maxAttempts", async () => {
    const { c, seen } = client([
      err(503, "no_leader"),
      err(503, "no_leader"),
      err(503, "no_leader"),
      err(503, "no_leader"),
    ]);
    const e = await c.get("k").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CairnClientError);
    expect(e).toMatchObject({ code: "no_leader", status: 503, attempts: 4 });
    expect(seen).toHaveLength(4);
    const { c: c2 } = client([{ refuse: true }, { refuse: true }, { refuse: true }, { refuse: true }]);
    await expect(c2.get("k")).rejects.toMatchObject({ code: "unavailable", attempts: 4 });
  });

  it("a non-retryable answer is not retried", async () => {
    const { c, seen } = client([err(400, "invalid_argument")]);
    await expect(c.get("k")).rejects.toMatchObject({ code: "invalid_argument", status: 400, attempts: 1 });
    expect(seen).toHaveLength(1);
  });

  it("a write is retried only when nothing was proposed: refused connection, no_leader, leader_transferring, 429", async () => {
    expect([...NO_EFFECT_CODES].sort()).toEqual(["leader_transferring", "no_leader", "too_many_requests"]);
    const { c, seen } = client([
      { refuse: true },
      err(503, "no_leader"),
      err(503, "leader_transferring"),
      PUT_OK,
    ]);
    expect((await c.put("k", "v")).revision).toBe(10);
    expect(seen.map((s) => `${s.method} ${s.endpoint}`)).toEqual([
      "PUT http://a:2379",
      "PUT http://b:2379",
      "PUT http://c:2379",
      "PUT http://a:2379",
    ]);
    const { c: c2 } = client([err(429, "too_many_requests"), PUT_OK]);
    expect((await c2.put("k", "v")).revision).toBe(10);
  });

  for (const [what, step] of [
    ["503 timeout", err(503, "timeout")],
    ["503 leader_changed", err(503, "leader_changed")],
    ["503 stopped", err(503, "stopped")],
    ["a proxy's 502 without an error body", { status: 502, body: "bad gateway" }],
    ["a connection lost after sending", { reset: true }],
    ["no answer within the request timeout", { hang: true }],
  ] as [string, Step][]) {
    it(`a write after ${what} fails with unknown_outcome and is not sent again`, async () => {
      const { c, seen } = client([step, PUT_OK]);
      const e = await c.put("k", "v").catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CairnClientError);
      expect((e as CairnClientError).code).toBe("unknown_outcome");
      expect((e as CairnClientError).cause).toBeInstanceOf(CairnClientError);
      expect(seen).toHaveLength(1);
    });
  }

  it("a delete and a txn with writes are writes; a read-only txn is a read; idempotent opts in", async () => {
    const { c, seen } = client([err(503, "timeout"), err(503, "timeout")]);
    await expect(c.delete("k")).rejects.toMatchObject({ code: "unknown_outcome" });
    await expect(c.txn({ success: [op.put("k", "v")] })).rejects.toMatchObject({ code: "unknown_outcome" });
    expect(seen).toHaveLength(2);
    const txnOk = { status: 200, body: { revision: 3, succeeded: true, responses: [] } };
    const { c: c2, seen: seen2 } = client([
      err(503, "timeout"),
      txnOk,
      err(503, "timeout"),
      txnOk,
      { reset: true },
      { status: 200, body: { revision: 4, deleted: 0 } },
    ]);
    expect((await c2.txn({ success: [op.get("k")] })).revision).toBe(3);
    expect((await c2.txn({ success: [op.put("k", "v")] }, { idempotent: true })).revision).toBe(3);
    const d = await c2.delete("k", { idempotent: true });
    expect(d.deleted).toBe(0);
    expect(seen2).toHaveLength(6);
  });

  it("grant picks its own id, so a retry after an unknown outcome is safe", async () => {
    const { c, seen } = client([
      err(503, "timeout"), // the first grant may or may not have been applied...
      err(409, "lease_exists"), // ...it was: the retry finds the id taken
      { status: 200, body: { id: 0, ttl: 9, granted_ttl: 10 } }, // time-to-live of the id
    ]);
    const lease = await c.grant(10, { keepAlive: false });
    const first = JSON.parse(seen[0]!.body!) as { ttl: number; id: number };
    const second = JSON.parse(seen[1]!.body!) as { ttl: number; id: number };
    expect(first.ttl).toBe(10);
    expect(Number.isSafeInteger(first.id) && first.id > 0).toBe(true);
    expect(second.id).toBe(first.id);
    expect(seen[2]!.path).toBe(`/v1/leases/${first.id}`);
    expect(lease).toMatchObject({ id: first.id, grantedTtl: 10 });
  });

  it("grant retries with another id after a collision on the first attempt", async () => {
    const { c, seen } = client([err(409, "lease_exists"), { status: 201, body: { id: 5, ttl: 10 } }]);
    await c.grant(10, { keepAlive: false });
    const ids = seen.map((s) => (JSON.parse(s.body!) as { id: number }).id);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("revoke answered lease_not_found after a retry counts as done", async () => {
    const { c } = client([{ reset: true }, err(404, "lease_not_found")]);
    expect(await c.revoke(42)).toBe(0);
    const { c: c2 } = client([err(404, "lease_not_found")]);
    await expect(c2.revoke(42)).rejects.toMatchObject({ code: "lease_not_found" });
  });

  it("close() ends a call in flight with 'closed'", async () => {
    const { c } = client([{ hang: true }]);
    const pending = c.get("k");
    c.close();
    await expect(pending).rejects.toMatchObject({ code: "closed" });
  });
});

describe("back-off", () => {
  it("doubles from the initial delay up to the maximum, with jitter in [d/2, d), reproducible by seed", () => {
    const a = new Backoff(50, 2_000, seededRandom(42));
    const b = new Backoff(50, 2_000, seededRandom(42));
    const delays = Array.from({ length: 10 }, (_, i) => a.delayMs(i));
    expect(Array.from({ length: 10 }, (_, i) => b.delayMs(i))).toEqual(delays);
    const caps = [50, 100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(caps[i]! / 2);
      expect(d).toBeLessThan(caps[i]!);
    });
    expect(new Set(delays.slice(6)).size).toBeGreaterThan(1); // jittered, not constant
  });

  it("sleeps between retries but moves on at once from a refused endpoint", async () => {
    const { c } = client([{ refuse: true }, { refuse: true }, RANGE_OK], {
      retry: { maxAttempts: 5, initialBackoffMs: 1_000, maxBackoffMs: 1_000, random: seededRandom(1) },
    });
    const t0 = Date.now();
    await c.get("k");
    expect(Date.now() - t0).toBeLessThan(500); // two refusals, no back-off before the third endpoint
    const { c: c2 } = client([err(503, "no_leader"), RANGE_OK], {
      retry: { maxAttempts: 5, initialBackoffMs: 300, maxBackoffMs: 300, random: seededRandom(1) },
    });
    const t1 = Date.now();
    await c2.get("k");
    expect(Date.now() - t1).toBeGreaterThanOrEqual(150);
  });
});
