/**
 * Leases on three real `cairn serve` processes (issue 4 §3, "lease expiry deletes keys after the
 * TTL and never before"): expiry in real time with a margin, a streaming keep-alive through a
 * follower that keeps a lease past its TTL, a kill -9 of the leader after which the new leader
 * renews every lease (nothing expires early because of the change, and the lease still expires
 * without keep-alive), and leases carried by a snapshot catch-up.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type TestCluster as Cluster,
  getKey,
  putKey,
  TestCluster,
  type TestMember,
} from "../helpers/cluster.ts";

/** --election-timeout of the test members (the helper's default flags: 100 ms / 1000 ms). */
const ELECTION_TIMEOUT_MS = 1_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// biome-ignore lint/suspicious/noExplicitAny: tests navigate arbitrary response JSON
async function call(url: string, method: string, body?: unknown): Promise<any> {
  const r = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${text}`);
  return JSON.parse(text);
}

async function grant(m: TestMember, ttl: number): Promise<number> {
  return (await call(`${m.clientUrl}/v1/leases`, "POST", { ttl })).id;
}

async function putWithLease(m: TestMember, key: string, lease: number): Promise<void> {
  const r = await fetch(`${m.clientUrl}/v1/kv/${encodeURIComponent(key)}?lease=${lease}`, {
    method: "PUT",
    body: "up",
    signal: AbortSignal.timeout(10_000),
  });
  if (!r.ok) throw new Error(`PUT ${key}: ${r.status} ${await r.text()}`);
}

/** Whether `key` exists in `m`'s local state (serializable read; null when m does not answer). */
async function present(m: TestMember, key: string): Promise<boolean | null> {
  return getKey(m.clientUrl, key, "serializable")
    .then((v) => v !== null)
    .catch(() => null);
}

/**
 * Polls `key` on `m` every 50 ms until it is gone (or `deadline`).
 * @returns the time it was first seen gone, or undefined
 */
async function goneAt(m: TestMember, key: string, deadline: number): Promise<number | undefined> {
  while (Date.now() < deadline) {
    if ((await present(m, key)) === false) return Date.now();
    await sleep(50);
  }
  return undefined;
}

describe("leases with real processes", () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await TestCluster.create(3, {
      extraFlags: ["--snapshot-count=20", "--snapshot-catchup-entries=5"],
    });
    await cluster.startAll();
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("expiry deletes the keys after the TTL, never before", async () => {
    const leader = await cluster.waitForLeader();
    const sentAt = Date.now();
    const id = await grant(leader, 2);
    await putWithLease(leader, "ttl/a", id);
    const grantedBy = Date.now();
    // The leader starts the TTL when it applies the grant: after sentAt. Never gone before then + TTL.
    const gone = await goneAt(leader, "ttl/a", grantedBy + 2_000 + 2_000);
    expect(gone, "the key was never deleted").toBeDefined();
    expect(gone! - sentAt).toBeGreaterThanOrEqual(2_000);
    for (const m of cluster.members) {
      expect(await goneAt(m, "ttl/a", Date.now() + 3_000)).toBeDefined();
    }
  }, 30_000);

  it("a streaming keep-alive through a follower keeps a lease alive past its TTL; then it expires", async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader && m.process)!;
    const id = await grant(follower, 2);
    await putWithLease(follower, "kept/a", id);
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const stop = new AbortController();
    controller.enqueue(new TextEncoder().encode("\n"));
    const res = await fetch(`${follower.clientUrl}/v1/leases/${id}/keepalive?stream=true`, {
      method: "POST",
      body,
      duplex: "half",
      signal: stop.signal,
    } as RequestInit);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let answers = 0;
    let lastAnswerAt = 0;
    let buf = "";
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          expect(JSON.parse(buf.slice(0, nl))).toEqual({ id, ttl: 2 });
          buf = buf.slice(nl + 1);
          answers++;
          lastAnswerAt = Date.now();
        }
      }
    })();
    const startedAt = Date.now();
    while (Date.now() - startedAt < 5_000) {
      await sleep(500);
      controller.enqueue(new TextEncoder().encode("\n"));
      expect(await present(follower, "kept/a")).toBe(true);
    }
    await sleep(300);
    stop.abort();
    await reading;
    expect(answers).toBeGreaterThanOrEqual(9);
    // No keep-alive any more: gone within TTL (+ a check interval and apply), not before the TTL.
    const gone = await goneAt(leader, "kept/a", lastAnswerAt + 2_000 + 2_000);
    expect(gone).toBeDefined();
    expect(gone! - lastAnswerAt).toBeGreaterThanOrEqual(2_000 - 100);
  }, 30_000);

  it("kill -9 of the leader: the new leader renews every lease, so the key outlives the old deadline, then expires", async () => {
    const oldLeader = await cluster.waitForLeader();
    const TTL_MS = 4_000;
    const id = await grant(oldLeader, TTL_MS / 1000);
    await putWithLease(oldLeader, "svc/a", id);
    const grantedBy = Date.now();
    await sleep(2_000); // no keep-alive: the old leader's deadline is now ~2 s away
    const killedAt = Date.now();
    await cluster.kill(oldLeader);
    const survivor = cluster.members.find((m) => m !== oldLeader)!;
    const newLeader = await cluster.waitForLeader(10_000, oldLeader);
    const upAt = Date.now();
    expect(newLeader).not.toBe(oldLeader);
    // The old deadline (grantedBy + TTL) passes while the new leader leads; the key must stay for a
    // time shorter than the TTL since the kill (and since the new leader is up).
    const holdUntil = Math.max(killedAt + TTL_MS - 300, grantedBy + TTL_MS + 500);
    while (Date.now() < holdUntil) {
      for (const m of [newLeader, survivor]) {
        expect(await present(m, "svc/a"), `${m.name} at ${Date.now() - killedAt} ms after the kill`).not.toBe(
          false,
        );
      }
      await sleep(100);
    }
    const ttl = await call(`${survivor.clientUrl}/v1/leases/${id}`, "GET");
    expect(ttl.granted_ttl).toBe(4);
    // The new leader was promoted after the kill (an election takes at least one election
    // timeout), with expiry = promotion + election timeout + TTL: never before that.
    const gone = await goneAt(newLeader, "svc/a", upAt + ELECTION_TIMEOUT_MS + TTL_MS + 3_000);
    expect(gone, "the lease never expired after the leader change").toBeDefined();
    expect(gone! - killedAt).toBeGreaterThanOrEqual(ELECTION_TIMEOUT_MS + ELECTION_TIMEOUT_MS + TTL_MS - 200);
    cluster.start(oldLeader);
    await cluster.waitForLeader(15_000);
  }, 60_000);

  it("a follower caught up by snapshot has the leases and their keys; a revoke through it deletes them", async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await cluster.kill(follower);
    const id = await grant(leader, 300);
    for (let i = 0; i < 5; i++) await putWithLease(leader, `snap-lease/${i}`, id);
    for (let i = 0; i < 60; i++) await putKey(leader.clientUrl, `snap-fill-${i}`, "x");
    cluster.start(follower);
    const deadline = Date.now() + 20_000;
    while ((await getKey(follower.clientUrl, "snap-fill-59", "serializable").catch(() => null)) !== "x") {
      if (Date.now() > deadline) throw new Error(`follower did not catch up:\n${follower.stderr}`);
      await sleep(100);
    }
    expect(follower.stderr).toContain("restored state from a leader's snapshot");
    const list = await call(`${follower.clientUrl}/v1/leases`, "GET");
    expect(list.leases).toContainEqual({ id, granted_ttl: 300 });
    const ttl = await call(`${follower.clientUrl}/v1/leases/${id}?keys=true`, "GET");
    expect(ttl.keys).toEqual([0, 1, 2, 3, 4].map((i) => `snap-lease/${i}`));
    await call(`${follower.clientUrl}/v1/leases/${id}`, "DELETE");
    for (const m of cluster.members) {
      expect(await goneAt(m, "snap-lease/4", Date.now() + 5_000)).toBeDefined();
    }
  }, 60_000);
});
