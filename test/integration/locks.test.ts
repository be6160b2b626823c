/**
 * Locks and elections on three real `cairn serve` processes (issue 4 §5, "lock mutual exclusion
 * under concurrency with fencing checked"): 8 clients spread over the three members take the
 * same lock over and over through POST /v1/locks; each critical section appends to a shared
 * record with a txn that writes only if the client's fencing token is greater than the last one
 * written. The test asserts that no two critical sections overlap, that every guarded append
 * succeeds, and that the tokens are strictly increasing in the order the lock was held. Then a
 * holder that stops renewing its lease (a paused process) loses the lock to the next waiter after
 * the TTL, and its late write is refused by the fencing check; and an election passes to the next
 * candidate when its leader's lease expires, as an observer on a third member sees.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BodyReader, dataOf } from "../helpers/body-reader.ts";
import { TestCluster } from "../helpers/cluster.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// biome-ignore lint/suspicious/noExplicitAny: tests navigate arbitrary response JSON
async function call(url: string, method: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    signal: AbortSignal.timeout(60_000),
  });
  return { status: r.status, body: JSON.parse(await r.text()) };
}

async function ok(url: string, method: string, body?: unknown) {
  const r = await call(url, method, body);
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Fencing tokens as fixed-width decimal text, so that the txn's byte comparison is numeric. */
const pad = (n: number) => String(n).padStart(16, "0");

/**
 * The protected resource's write: append `entry` to "record" only if `token` is greater than the
 * last token written to "fence" (and "record" was not changed since it was read).
 * @returns whether the write was accepted
 */
async function fencedAppend(url: string, token: number, entry: string): Promise<boolean> {
  const current = await call(`${url}/v1/kv/record?meta=true`, "GET");
  const value: string = current.body.kv.value;
  const r = await ok(`${url}/v1/txn`, "POST", {
    compare: [
      { key: "fence", target: "value", result: "<", value: pad(token) },
      { key: "record", target: "mod_revision", result: "=", mod_revision: current.body.kv.mod_revision },
    ],
    success: [
      { put: { key: "fence", value: pad(token) } },
      { put: { key: "record", value: `${value}${entry};` } },
    ],
  });
  return r.succeeded;
}

describe("locks and elections with real processes", () => {
  let cluster: TestCluster;
  const url = (i: number) => cluster.members[i % cluster.members.length]!.clientUrl;

  beforeAll(async () => {
    cluster = await TestCluster.create(3);
    await cluster.startAll();
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("8 clients: no overlapping critical sections, every fenced append accepted, tokens strictly increasing", async () => {
    const CLIENTS = 8;
    const ROUNDS = 6;
    await fetch(`${url(0)}/v1/kv/fence`, { method: "PUT", body: pad(0) });
    await fetch(`${url(0)}/v1/kv/record`, { method: "PUT", body: "" });

    let holder: number | undefined;
    const overlaps: string[] = [];
    const held: { client: number; token: number; revision: number }[] = [];
    const rejected: number[] = [];

    const client = async (c: number) => {
      const base = url(c);
      const { id: lease } = await ok(`${base}/v1/leases`, "POST", { ttl: 60 });
      for (let round = 0; round < ROUNDS; round++) {
        const lock = await ok(`${base}/v1/locks/mutex?timeout_ms=120000`, "POST", { lease });
        if (holder !== undefined) overlaps.push(`client ${c} acquired while client ${holder} held the lock`);
        holder = c;
        held.push({ client: c, token: lock.fencing_token, revision: lock.revision });
        if (!(await fencedAppend(base, lock.fencing_token, `${c}:${lock.fencing_token}`))) {
          rejected.push(lock.fencing_token);
        }
        await sleep(Math.random() * 5);
        if (holder !== c) overlaps.push(`client ${c}'s critical section was entered by client ${holder}`);
        holder = undefined;
        const released = await ok(`${base}/v1/locks/mutex?key=${encodeURIComponent(lock.key)}`, "DELETE");
        expect(released.released).toBe(true);
      }
      await ok(`${base}/v1/leases/${lease}`, "DELETE");
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    expect(overlaps).toEqual([]);
    expect(rejected).toEqual([]);
    expect(held).toHaveLength(CLIENTS * ROUNDS);
    for (let i = 1; i < held.length; i++) {
      expect(held[i]!.token).toBeGreaterThan(held[i - 1]!.token);
      expect(held[i]!.revision).toBeGreaterThan(held[i - 1]!.revision);
    }
    // The record the resource kept: every section once, in token order.
    const record = await ok(`${url(1)}/v1/kv/record?meta=true`, "GET");
    const entries = (record.kv.value as string).split(";").filter(Boolean);
    expect(entries).toEqual(held.map((h) => `${h.client}:${h.token}`));
    expect(new Set(held.map((h) => h.client)).size).toBe(CLIENTS);
  }, 120_000);

  it("a holder paused past its lease loses the lock after the TTL, and its late write is fenced off", async () => {
    await fetch(`${url(0)}/v1/kv/fence`, { method: "PUT", body: pad(0) });
    // Holder A on member 0 with a 2 s lease (the minimum) that it never renews: it is "paused".
    const { id: leaseA, ttl } = await ok(`${url(0)}/v1/leases`, "POST", { ttl: 2 });
    const a = await ok(`${url(0)}/v1/locks/paused`, "POST", { lease: leaseA });
    const acquiredA = Date.now();
    // Waiter B on member 1.
    const { id: leaseB } = await ok(`${url(1)}/v1/leases`, "POST", { ttl: 60 });
    const b = await ok(`${url(1)}/v1/locks/paused?timeout_ms=30000`, "POST", { lease: leaseB });
    const waited = Date.now() - acquiredA;
    expect(waited).toBeGreaterThanOrEqual(ttl * 1000 - 250); // never before the TTL
    expect(b.key).toBe(`paused/${leaseB.toString(16)}`);
    expect(b.fencing_token).toBeGreaterThan(a.fencing_token);

    expect(await fencedAppend(url(1), b.fencing_token, "B")).toBe(true);
    // A wakes up and writes as if it still held the lock: refused.
    expect(await fencedAppend(url(0), a.fencing_token, "A")).toBe(false);
    // A txn on the lock key's create_revision also tells A it lost the lock.
    const stillMine = await ok(`${url(0)}/v1/txn`, "POST", {
      compare: [{ key: a.key, target: "create_revision", result: "=", create_revision: a.fencing_token }],
      success: [{ put: { key: "protected", value: "A" } }],
    });
    expect(stillMine.succeeded).toBe(false);
    expect((await ok(`${url(0)}/v1/locks/paused?key=${encodeURIComponent(a.key)}`, "DELETE")).released).toBe(
      false,
    );
    await ok(`${url(1)}/v1/locks/paused?key=${encodeURIComponent(b.key)}`, "DELETE");
    await ok(`${url(1)}/v1/leases/${leaseB}`, "DELETE");
  }, 60_000);

  it("an election passes to the next candidate when the leader's lease expires; an observer on another member follows", async () => {
    const observer = await fetch(`${url(2)}/v1/elections/primary/observe`, {
      signal: AbortSignal.timeout(30_000),
    });
    const events = new BodyReader(observer);
    expect((await events.event())?.event).toBe("no_leader");

    const { id: leaseA } = await ok(`${url(0)}/v1/leases`, "POST", { ttl: 2 });
    const a = await ok(`${url(0)}/v1/elections/primary/campaign`, "POST", { lease: leaseA, value: "node-a" });
    expect(dataOf(await events.event(10_000)).kv).toMatchObject({ key: a.leader.key, value: "node-a" });

    const { id: leaseB } = await ok(`${url(1)}/v1/leases`, "POST", { ttl: 60 });
    const b = await ok(`${url(1)}/v1/elections/primary/campaign?timeout_ms=30000`, "POST", {
      lease: leaseB,
      value: "node-b",
    });
    expect(b.leader.rev).toBeGreaterThan(a.leader.rev);
    expect(dataOf(await events.event(10_000)).kv).toMatchObject({ key: b.leader.key, value: "node-b" });
    const leader = await ok(`${url(2)}/v1/elections/primary/leader`, "GET");
    expect(leader.kv.key).toBe(b.leader.key);

    const p = await call(`${url(0)}/v1/elections/primary/proclaim`, "POST", {
      leader: a.leader,
      value: "late",
    });
    expect(p.status).toBe(412);
    await ok(`${url(1)}/v1/elections/primary/resign`, "POST", { leader: b.leader });
    expect((await events.event(10_000))?.event).toBe("no_leader");
    await events.cancel();
    await ok(`${url(1)}/v1/leases/${leaseB}`, "DELETE");
  }, 60_000);
});
