/**
 * Locks and elections through the API (app.request over a real single-member node): the /v1
 * routes (acquire, wait, release, fencing tokens, timeout, waiter limit, session expiry, client
 * disconnect, campaign/leader/proclaim/resign/observe) and the shapes of etcd's gateway
 * /v3/lock/* and /v3/election/* (copied from etcd 3.4.23, see codec/v3-lock.ts).
 */
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import { errorResponse } from "../../../src/api/errors.ts";
import { registerCoordination } from "../../../src/api/routes/coordination.ts";
import { LockService } from "../../../src/server/locks.ts";
import type { KvService } from "../../../src/server/service.ts";
import { BodyReader, dataOf } from "../../helpers/body-reader.ts";
import { startSingleNode } from "../../helpers/single-node.ts";
import type { Json } from "./helpers.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let kv: KvService;
let app: Hono;
let stop: () => Promise<void>;

beforeAll(async () => {
  const node = await startSingleNode();
  kv = node.kv;
  stop = node.stop;
  app = createApp({
    kv,
    cluster: node.node,
    maxRequestBytes: 64 * 1024,
    version: "t",
    watchHeartbeatMs: 200,
  });
});
afterAll(async () => {
  await stop?.();
});

async function call(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await app.request(path, {
    method: init.method ?? "POST",
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    headers: { "content-type": "application/json", ...(init.headers ?? {}) },
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function grant(ttl = 30): Promise<number> {
  const r = await call("/v1/leases", { body: { ttl } });
  expect(r.status).toBe(201);
  return r.body.id;
}

/** Keys under `prefix` (serializable read of the node's state). */
async function keysUnder(prefix: string): Promise<string[]> {
  const r = await app.request(`/v1/kv/${prefix}?prefix=true&keys_only=true`);
  return ((await r.json()) as Json).kvs.map((k: Json) => k.key);
}

/** Resolves once `p` settles, or "pending" after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  return Promise.race([p, sleep(ms).then(() => "pending" as const)]);
}

describe("/v1/locks", () => {
  it("acquires, gives the same key to the same lease, and returns etcd's key and a fencing token", async () => {
    const lease = await grant();
    const a = await call("/v1/locks/shape", { body: { lease } });
    expect(a.status).toBe(200);
    expect(a.body).toEqual({
      name: "shape",
      key: `shape/${lease.toString(16)}`,
      revision: expect.any(Number),
      fencing_token: a.body.revision,
      lease,
    });
    const again = await call("/v1/locks/shape", { body: { lease } });
    expect(again.body.key).toBe(a.body.key);
    expect(again.body.fencing_token).toBe(a.body.fencing_token);
    const rel = await call(`/v1/locks/shape?key=${encodeURIComponent(a.body.key)}`, { method: "DELETE" });
    expect(rel).toEqual({ status: 200, body: { revision: expect.any(Number), released: true } });
    const twice = await call(`/v1/locks/shape?key=${encodeURIComponent(a.body.key)}`, { method: "DELETE" });
    expect(twice.body.released).toBe(false);
  });

  it("unlock wakes the next waiter, in order, with strictly greater fencing tokens", async () => {
    const [l1, l2, l3] = [await grant(), await grant(), await grant()];
    const first = await call("/v1/locks/queue", { body: { lease: l1 } });
    const second = call("/v1/locks/queue?timeout_ms=10000", { body: { lease: l2 } });
    await sleep(50);
    const third = call("/v1/locks/queue?timeout_ms=10000", { body: { lease: l3 } });
    expect(await within(second, 200)).toBe("pending");
    await call(`/v1/locks/queue?key=${first.body.key}`, { method: "DELETE" });
    const s = await second;
    expect(s.status).toBe(200);
    expect(s.body.key).toBe(`queue/${l2.toString(16)}`);
    expect(s.body.fencing_token).toBeGreaterThan(first.body.fencing_token);
    expect(s.body.revision).toBeGreaterThan(first.body.revision);
    expect(await within(third, 200)).toBe("pending");
    await call(`/v1/locks/queue?key=${s.body.key}`, { method: "DELETE" });
    const t = await third;
    expect(t.body.fencing_token).toBeGreaterThan(s.body.fencing_token);
    await call(`/v1/locks/queue?key=${t.body.key}`, { method: "DELETE" });
  });

  it("a revoked (expired) holder's lease frees the lock for the next waiter", async () => {
    const [l1, l2] = [await grant(), await grant()];
    await call("/v1/locks/expiry", { body: { lease: l1 } });
    const waiter = call("/v1/locks/expiry?timeout_ms=10000", { body: { lease: l2 } });
    expect(await within(waiter, 100)).toBe("pending");
    await call(`/v1/leases/${l1}`, { method: "DELETE" });
    expect((await waiter).body.key).toBe(`expiry/${l2.toString(16)}`);
  });

  it("times out with 408 deadline_exceeded and deletes the waiter's key", async () => {
    const [l1, l2] = [await grant(), await grant()];
    const held = await call("/v1/locks/slow", { body: { lease: l1 } });
    const t0 = Date.now();
    const r = await call("/v1/locks/slow?timeout_ms=300", { body: { lease: l2 } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(r.status).toBe(408);
    expect(r.body.error.code).toBe("deadline_exceeded");
    expect(await keysUnder("slow/")).toEqual([held.body.key]);
  });

  it("a waiter whose lease expires while waiting gets 410 session_expired", async () => {
    const [l1, l2] = [await grant(), await grant()];
    await call("/v1/locks/lost", { body: { lease: l1 } });
    const waiter = call("/v1/locks/lost?timeout_ms=10000", { body: { lease: l2 } });
    await sleep(100);
    await call(`/v1/leases/${l2}`, { method: "DELETE" });
    await call(`/v1/leases/${l1}`, { method: "DELETE" });
    const r = await waiter;
    expect(r.status).toBe(410);
    expect(r.body.error.code).toBe("session_expired");
  });

  it("refuses bad requests", async () => {
    const lease = await grant();
    expect((await call("/v1/locks/bad", { body: {} })).status).toBe(400);
    expect((await call("/v1/locks/bad", { body: { lease, extra: 1 } })).status).toBe(400);
    expect((await call("/v1/locks/bad?timeout_ms=0", { body: { lease } })).status).toBe(400);
    expect((await call("/v1/locks/bad?timeout_ms=300001", { body: { lease } })).status).toBe(400);
    expect((await call("/v1/locks/bad?wait=1", { body: { lease } })).status).toBe(400);
    const missing = await call("/v1/locks/bad", { body: { lease: 999_999 } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("lease_not_found");
    expect((await call("/v1/locks/bad?key=other/1", { method: "DELETE" })).status).toBe(400);
    expect((await call("/v1/locks/bad", { method: "DELETE" })).status).toBe(400);
  });

  it("names may hold slashes and UTF-8", async () => {
    const lease = await grant();
    const r = await call(`/v1/locks/${encodeURIComponent("jobs/配置")}`, { body: { lease } });
    expect(r.body.key).toBe(`jobs/配置/${lease.toString(16)}`);
    const rel = await call(
      `/v1/locks/jobs/${encodeURIComponent("配置")}?key=${encodeURIComponent(r.body.key)}`,
      {
        method: "DELETE",
      },
    );
    expect(rel.body.released).toBe(true);
  });
});

describe("waiting is bounded", () => {
  let limited: Hono;
  let locks: LockService;
  beforeAll(() => {
    limited = new Hono();
    locks = registerCoordination(
      limited,
      { kv, cluster: undefined as never, maxRequestBytes: 64 * 1024, version: "t" },
      new LockService(kv, { maxWaiters: 2, maxObservers: 1 }),
    );
    limited.onError((err, c) => errorResponse(err, c));
  });

  const lockOn = (h: Hono, name: string, lease: number, timeoutMs = 10_000, signal?: AbortSignal) =>
    h.request(`/v1/locks/${name}?timeout_ms=${timeoutMs}`, {
      method: "POST",
      body: JSON.stringify({ lease }),
      ...(signal ? { signal } : {}),
    });

  it("past the waiter limit a lock gets 429 at once and writes nothing", async () => {
    const [l1, l2, l3, l4] = [await grant(), await grant(), await grant(), await grant()];
    const held = (await (await lockOn(limited, "limit", l1)).json()) as Json;
    const w2 = lockOn(limited, "limit", l2);
    const w3 = lockOn(limited, "limit", l3);
    await sleep(100);
    expect(locks.waiterCount).toBe(2);
    const refused = await lockOn(limited, "limit", l4);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as Json).error.code).toBe("too_many_requests");
    expect(await keysUnder("limit/")).not.toContain(`limit/${l4.toString(16)}`);
    await call(`/v1/leases/${l1}`, { method: "DELETE" });
    expect((await w2).status).toBe(200);
    await call(`/v1/leases/${l2}`, { method: "DELETE" });
    expect((await w3).status).toBe(200);
    await call(`/v1/leases/${l3}`, { method: "DELETE" });
    expect(locks.waiterCount).toBe(0);
    expect(held.key).toBe(`limit/${l1.toString(16)}`);
  });

  it("past the observer limit an observe gets 429", async () => {
    const gone = new AbortController();
    const first = await limited.request("/v1/elections/obs/observe", { signal: gone.signal });
    expect(first.status).toBe(200);
    const second = await limited.request("/v1/elections/obs/observe");
    expect(second.status).toBe(429);
    gone.abort();
    await first.body?.cancel().catch(() => {});
    for (let i = 0; i < 50 && locks.observerCount > 0; i++) await sleep(20);
    expect(locks.observerCount).toBe(0);
  });

  it("a client that disconnects while waiting loses its place: its key is deleted, its slot freed", async () => {
    const server: ServerType = await new Promise((resolve) => {
      const s = serve({ fetch: limited.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const [l1, l2] = [await grant(), await grant()];
      await lockOn(limited, "gone", l1);
      const client = new AbortController();
      const waiting = fetch(`${url}/v1/locks/gone?timeout_ms=30000`, {
        method: "POST",
        body: JSON.stringify({ lease: l2 }),
        signal: client.signal,
      }).catch(() => "aborted");
      for (let i = 0; i < 100 && (await keysUnder("gone/")).length < 2; i++) await sleep(20);
      expect(await keysUnder("gone/")).toHaveLength(2);
      expect(locks.waiterCount).toBe(1);
      client.abort();
      expect(await waiting).toBe("aborted");
      for (let i = 0; i < 100 && (await keysUnder("gone/")).length > 1; i++) await sleep(20);
      expect(await keysUnder("gone/")).toEqual([`gone/${l1.toString(16)}`]);
      expect(locks.waiterCount).toBe(0);
    } finally {
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("/v1/elections", () => {
  it("campaign, leader, proclaim, resign; leadership passes on resign and on lease expiry; observe follows", async () => {
    const [la, lb, lc] = [await grant(), await grant(), await grant()];
    const noLeader = await call("/v1/elections/e1/leader", { method: "GET" });
    expect(noLeader.status).toBe(404);
    expect(noLeader.body.error.code).toBe("election_no_leader");

    const observer = await app.request("/v1/elections/e1/observe");
    expect(observer.headers.get("content-type")).toContain("text/event-stream");
    const events = new BodyReader(observer);
    const none = await events.event();
    expect(none?.event).toBe("no_leader");

    const a = await call("/v1/elections/e1/campaign", { body: { lease: la, value: "a" } });
    expect(a.body).toEqual({
      revision: expect.any(Number),
      leader: { name: "e1", key: `e1/${la.toString(16)}`, rev: a.body.revision, lease: la },
    });
    let ev = await events.event();
    expect(ev?.event).toBe("leader");
    expect(dataOf(ev).kv).toMatchObject({ key: a.body.leader.key, value: "a" });

    const leader = await call("/v1/elections/e1/leader", { method: "GET" });
    expect(leader.body.kv).toMatchObject({
      key: a.body.leader.key,
      value: "a",
      create_revision: a.body.leader.rev,
    });

    const p = await call("/v1/elections/e1/proclaim", { body: { leader: a.body.leader, value: "a2" } });
    expect(p.status).toBe(200);
    ev = await events.event();
    expect(dataOf(ev)).toMatchObject({ revision: p.body.revision, kv: { value: "a2" } });

    const b = call("/v1/elections/e1/campaign?timeout_ms=10000", { body: { lease: lb, value: "b" } });
    await sleep(50);
    const c = call("/v1/elections/e1/campaign?timeout_ms=10000", { body: { lease: lc, value: "c" } });
    expect(await within(b, 150)).toBe("pending");

    const r = await call("/v1/elections/e1/resign", { body: { leader: a.body.leader } });
    expect(r.body).toEqual({ revision: expect.any(Number), resigned: true });
    const bWon = await b;
    expect(bWon.body.leader.key).toBe(`e1/${lb.toString(16)}`);
    ev = await events.event();
    expect(dataOf(ev).kv).toMatchObject({ key: bWon.body.leader.key, value: "b" });

    const stale = await call("/v1/elections/e1/proclaim", { body: { leader: a.body.leader, value: "x" } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe("election_not_leader");
    expect((await call("/v1/elections/e1/resign", { body: { leader: a.body.leader } })).body.resigned).toBe(
      false,
    );

    // b's lease expires (revoked here): c leads.
    expect(await within(c, 100)).toBe("pending");
    await call(`/v1/leases/${lb}`, { method: "DELETE" });
    const cWon = await c;
    expect(cWon.body.leader.key).toBe(`e1/${lc.toString(16)}`);
    ev = await events.event();
    expect(dataOf(ev).kv).toMatchObject({ key: cWon.body.leader.key, value: "c" });

    await call("/v1/elections/e1/resign", { body: { leader: cWon.body.leader } });
    expect((await events.event())?.event).toBe("no_leader");
    await events.cancel();
  });

  it("refuses unknown operations and bad leaders", async () => {
    expect((await call("/v1/elections/e2/elect", { body: {} })).status).toBe(404);
    expect((await call("/v1/elections/e2/leaders", { method: "GET" })).status).toBe(404);
    const lease = await grant();
    const bad = await call("/v1/elections/e2/resign", { body: { leader: { key: "other/1", rev: 3 } } });
    expect(bad.status).toBe(400);
    const wrongName = await call("/v1/elections/e2/resign", {
      body: { leader: { name: "e3", key: "e2/1", rev: 3 } },
    });
    expect(wrongName.status).toBe(400);
    const noLease = await call("/v1/elections/e2/proclaim", {
      body: { leader: { key: "e2/1", rev: 3 }, value: "v" },
    });
    expect(noLease.status).toBe(400);
    const bin = await call("/v1/elections/e2/campaign", {
      body: { lease, value: "/w==", value_encoding: "base64" },
    });
    expect(bin.status).toBe(200);
    const kvs = ((await (await app.request(`/v1/kv/${bin.body.leader.key}?meta=true`)).json()) as Json).kv;
    expect(kvs.value_encoding).toBe("base64");
    await call(`/v1/leases/${lease}`, { method: "DELETE" });
  });
});

describe("etcd gateway /v3/lock and /v3/election", () => {
  const header = {
    cluster_id: expect.stringMatching(/^[0-9]+$/),
    member_id: expect.stringMatching(/^[0-9]+$/),
    revision: expect.stringMatching(/^[0-9]+$/),
    raft_term: expect.stringMatching(/^[0-9]+$/),
  };

  it("lock and unlock", async () => {
    const [l1, l2] = [await grant(), await grant()];
    const lock = await call("/v3/lock/lock", { body: { name: b64("v3lock"), lease: String(l1) } });
    expect(lock).toEqual({ status: 200, body: { header, key: b64(`v3lock/${l1.toString(16)}`) } });
    const timedOut = await call("/v3/lock/lock", {
      body: { name: b64("v3lock"), lease: l2 },
      headers: { "grpc-timeout": "200m" },
    });
    expect(timedOut).toEqual({
      status: 504,
      body: { error: "context deadline exceeded", message: "context deadline exceeded", code: 4 },
    });
    const unlock = await call("/v3/lock/unlock", { body: { key: lock.body.key } });
    expect(unlock).toEqual({ status: 200, body: { header } });
    expect(await keysUnder("v3lock/")).toEqual([]);
  });

  it("lock without a lease grants one of 60 s (etcd's v3lock session)", async () => {
    const lock = await call("/v3/lock/lock", { body: { name: b64("nolease") } });
    expect(lock.status).toBe(200);
    const key = unb64(lock.body.key);
    const lease = Number.parseInt(key.split("/")[1]!, 16);
    const ttl = await call(`/v1/leases/${lease}`, { method: "GET" });
    expect(ttl.body.granted_ttl).toBe(60);
    await call(`/v1/leases/${lease}`, { method: "DELETE" });
  });

  it("errors as etcd's v3lock answers them: gRPC Unknown, HTTP 500", async () => {
    expect(await call("/v3/lock/lock", { body: { name: b64("x"), lease: "12345" } })).toEqual({
      status: 500,
      body: {
        error: "etcdserver: requested lease not found",
        message: "etcdserver: requested lease not found",
        code: 2,
      },
    });
    expect(await call("/v3/lock/unlock", { body: {} })).toEqual({
      status: 500,
      body: { error: "etcdserver: key is not provided", message: "etcdserver: key is not provided", code: 2 },
    });
    expect((await call("/v3/election/leader", { body: { name: b64("nobody") } })).body).toEqual({
      error: "election: no leader",
      message: "election: no leader",
      code: 2,
    });
    expect((await call("/v3/election/proclaim", { body: { value: b64("v") } })).body).toEqual({
      error: '"leader" field must be provided',
      message: '"leader" field must be provided',
      code: 2,
    });
    expect((await call("/v3/election/resign", { body: {} })).status).toBe(500);
    expect((await call("/v3/lock/lock", { body: { name: 5 } })).status).toBe(400);
  });

  it("campaign, leader, proclaim, observe, resign", async () => {
    const [la, lb] = [await grant(), await grant()];
    const name = b64("v3e");
    const campaign = await call("/v3/election/campaign", {
      body: { name, lease: String(la), value: b64("v1") },
    });
    expect(campaign).toEqual({
      status: 200,
      body: {
        header,
        leader: {
          name,
          key: b64(`v3e/${la.toString(16)}`),
          rev: campaign.body.header.revision,
          lease: String(la),
        },
      },
    });
    const leaderKey = campaign.body.leader;
    const leader = await call("/v3/election/leader", { body: { name } });
    expect(leader.body).toEqual({
      header,
      kv: {
        key: leaderKey.key,
        create_revision: leaderKey.rev,
        mod_revision: leaderKey.rev,
        version: "1",
        value: b64("v1"),
        lease: String(la),
      },
    });

    const observeRes = await app.request("/v3/election/observe", {
      method: "POST",
      body: JSON.stringify({ name }),
    });
    expect(observeRes.headers.get("content-type")).toContain("application/json");
    const observed = new BodyReader(observeRes);
    expect((await observed.line()).result).toEqual({ header, kv: leader.body.kv });

    const proclaim = await call("/v3/election/proclaim", { body: { leader: leaderKey, value: b64("v2") } });
    expect(proclaim).toEqual({ status: 200, body: { header } });
    const next = (await observed.line()).result;
    expect(next.kv).toMatchObject({ value: b64("v2"), version: "2" });
    expect(next.header.revision).toBe(proclaim.body.header.revision);

    const b = call("/v3/election/campaign", { body: { name, lease: lb, value: b64("b") } });
    expect(await within(b, 100)).toBe("pending");
    const resign = await call("/v3/election/resign", { body: { leader: leaderKey } });
    expect(resign).toEqual({ status: 200, body: { header } });
    const bWon = await b;
    expect(unb64(bWon.body.leader.key)).toBe(`v3e/${lb.toString(16)}`);
    expect((await observed.line()).result.kv).toMatchObject({ key: bWon.body.leader.key, value: b64("b") });

    const stale = await call("/v3/election/proclaim", { body: { leader: leaderKey, value: b64("x") } });
    expect(stale).toEqual({
      status: 500,
      body: { error: "election: not leader", message: "election: not leader", code: 2 },
    });
    // etcd: resigning again is no error
    expect((await call("/v3/election/resign", { body: { leader: leaderKey } })).status).toBe(200);
    await observed.cancel();
    await call("/v3/election/resign", { body: { leader: bWon.body.leader } });
  });
});
