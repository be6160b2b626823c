/**
 * Client-side locks and elections (etcd clientv3/concurrency recipes) against a real single node:
 * mutual exclusion between two clients with strictly increasing fencing tokens and fenced writes,
 * tryLock, a waiter taking over when the holder's session ends, etcd's key layout, and an election
 * passing leadership (campaign, leader, proclaim, observe, resign).
 */
import { describe, expect, it } from "vitest";
import { type CairnClient, compare, type KeyValue, op } from "../../../src/client/index.ts";
import { delay, eventually, useServedNode } from "./helpers.ts";

const served = useServedNode();

describe("lock", () => {
  it("excludes between two clients; fencing tokens increase; fenced writes succeed", async () => {
    const clients = [served.client(), served.client()];
    let holder: number | undefined;
    let overlaps = 0;
    const tokens: number[] = [];
    await clients[0]!.put("lock1-counter", "0");
    const worker = async (c: CairnClient, who: number) => {
      for (let i = 0; i < 6; i++) {
        const lock = await c.lock("locks/one", { ttl: 5 });
        if (holder !== undefined) overlaps++;
        holder = who;
        tokens.push(lock.fencingToken);
        expect(lock.key).toBe(`locks/one/${lock.session.lease.id.toString(16)}`);
        // A write fenced by ownership: it applies only while this mutex holds the lock.
        const cur = (await c.get("lock1-counter")).kv!;
        const r = await c.txn({
          compare: [lock.mutex.ownerCompare(), compare.modRevision("lock1-counter", "=", cur.modRevision)],
          success: [op.put("lock1-counter", String(Number(cur.value) + 1))],
        });
        expect(r.succeeded).toBe(true);
        await delay(5);
        holder = undefined;
        await lock.release();
      }
    };
    await Promise.all(clients.map((c, i) => worker(c, i)));
    expect(overlaps).toBe(0);
    expect(tokens).toHaveLength(12);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    expect((await clients[0]!.get("lock1-counter")).kv?.value).toBe("12");
    expect((await clients[0]!.getPrefix("locks/one/")).kvs).toEqual([]); // every key released
  }, 20_000);

  it("tryLock does not wait; the waiter gets the lock when the holder's session ends", async () => {
    const a = served.client();
    const b = served.client();
    const sa = await a.session({ ttl: 30 });
    const sb = await b.session({ ttl: 30 });
    const ma = a.mutex(sa, "locks/two");
    const mb = b.mutex(sb, "locks/two");
    expect(await ma.tryLock()).toBe(true);
    expect(await ma.tryLock()).toBe(true); // the same session holds it already
    expect(await mb.tryLock()).toBe(false);
    expect((await a.getPrefix("locks/two/")).kvs.map((kv) => kv.key)).toEqual([ma.key]);
    let acquired = false;
    const waiting = mb.lock().then(() => {
      acquired = true;
    });
    await delay(200);
    expect(acquired).toBe(false);
    await sa.close(); // revoking the holder's lease deletes its key: the waiter proceeds
    await waiting;
    expect(mb.fencingToken).toBeGreaterThan(ma.fencingToken);
    await mb.unlock();
    await sb.close();
  });

  it("an aborted wait withdraws the waiter's key", async () => {
    const a = served.client();
    const b = served.client();
    const held = await a.lock("locks/three", { ttl: 30 });
    const ac = new AbortController();
    const sb = await b.session({ ttl: 30 });
    const mb = b.mutex(sb, "locks/three");
    const waiting = mb.lock({ signal: ac.signal });
    await eventually("the waiter's key", async () => (await a.getPrefix("locks/three/")).kvs.length === 2);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: "aborted" });
    expect((await a.getPrefix("locks/three/")).kvs.map((kv) => kv.key)).toEqual([held.key]);
    await held.release();
    await sb.close();
  });

  it("a waiter whose session is lost fails with session_expired", async () => {
    const a = served.client();
    const b = served.client();
    const held = await a.lock("locks/four", { ttl: 30 });
    const sb = await b.session({ ttl: 2 }); // keep-alive every 667 ms notices the loss soon
    const waiting = b.mutex(sb, "locks/four").lock();
    await eventually("the waiter's key", async () => (await a.getPrefix("locks/four/")).kvs.length === 2);
    await a.revoke(sb.leaseId); // someone else revokes the waiter's lease
    await expect(waiting).rejects.toMatchObject({ code: "session_expired" });
    await held.release();
  });
});

describe("election", () => {
  it("passes leadership in campaign order; observe reports each leader and value", async () => {
    const a = served.client();
    const b = served.client();
    const watcher = served.client();
    const observed: string[] = [];
    const obs = watcher.election("elect/one").observe((kv: KeyValue) => observed.push(kv.value));
    await expect(watcher.election("elect/one").leader()).rejects.toMatchObject({ code: "no_leader_elected" });

    const sa = await a.session({ ttl: 30 });
    const sb = await b.session({ ttl: 30 });
    const ea = a.election("elect/one", sa);
    const eb = b.election("elect/one", sb);
    await ea.campaign("alpha");
    expect(ea.isLeader).toBe(true);
    expect(ea.key).toBe(`elect/one/${sa.lease.id.toString(16)}`);
    let bElected = false;
    const bCampaign = eb.campaign("beta").then(() => {
      bElected = true;
    });
    await delay(200);
    expect(bElected).toBe(false);
    expect((await watcher.election("elect/one").leader()).value).toBe("alpha");
    await ea.proclaim("alpha-2");
    await eventually("alpha-2 observed", () => observed.includes("alpha-2"));
    await ea.resign();
    expect(ea.isLeader).toBe(false);
    await bCampaign;
    expect(eb.revision).toBeGreaterThan(ea.revision === -1 ? 0 : ea.revision);
    expect((await watcher.election("elect/one").leader()).value).toBe("beta");
    await eventually("beta observed", () => observed.at(-1) === "beta");
    expect(observed).toEqual(["alpha", "alpha-2", "beta"]);
    await expect(ea.proclaim("again")).rejects.toMatchObject({ code: "not_leader" });
    obs.cancel();
    expect(await obs.done).toEqual({});
    await eb.resign();
    await sa.close();
    await sb.close();
  });

  it("a leader whose session ends hands over to the next candidate", async () => {
    const a = served.client();
    const b = served.client();
    const sa = await a.session({ ttl: 30 });
    const sb = await b.session({ ttl: 30 });
    await a.election("elect/two", sa).campaign("a");
    const eb = b.election("elect/two", sb);
    const bCampaign = eb.campaign("b");
    await delay(100);
    await sa.close();
    await bCampaign;
    expect(eb.isLeader).toBe(true);
    await sb.close();
    expect(eb.isLeader).toBe(false);
  });
});
