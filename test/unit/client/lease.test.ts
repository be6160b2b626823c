/**
 * Leases through CairnClient against a real single node (minimum TTL 1 s): automatic keep-alive
 * keeps a key alive well past its TTL; once keep-alive stops the key goes; revoke deletes the keys
 * at once; a lease revoked by someone else is reported lost; time-to-live and the lease list.
 */
import { describe, expect, it } from "vitest";
import type { LeaseEnd } from "../../../src/client/index.ts";
import { delay, eventually, useServedNode } from "./helpers.ts";

const served = useServedNode();

describe("CairnClient leases", () => {
  it("keep-alive keeps a key alive past its TTL; the key goes once keep-alive stops", async () => {
    const c = served.client();
    const lease = await c.grant(1);
    expect(lease.grantedTtl).toBe(1);
    expect(Number.isSafeInteger(lease.id) && lease.id > 0).toBe(true);
    await c.put("lease/alive", "up", { lease: lease.id });
    await delay(3_000); // three TTLs
    const kv = (await c.get("lease/alive")).kv;
    expect(kv).toMatchObject({ value: "up", lease: lease.id });
    expect(lease.active).toBe(true);
    lease.close();
    expect(await lease.ended).toEqual({ id: lease.id, reason: "closed" });
    await eventually("the key expires", async () => (await c.get("lease/alive")).kv === undefined, 4_000);
  }, 15_000);

  it("revoke deletes the lease's keys at once and ends keep-alive", async () => {
    const c = served.client();
    const lease = await c.grant(30);
    await c.put("lease/r/a", "1", { lease: lease.id });
    await c.put("lease/r/b", "2", { lease: lease.id });
    const ttl = await lease.timeToLive({ keys: true });
    expect(ttl).toMatchObject({ id: lease.id, grantedTtl: 30 });
    expect(ttl.keys?.sort()).toEqual(["lease/r/a", "lease/r/b"]);
    expect(ttl.ttl).toBeGreaterThan(25);
    await lease.revoke();
    expect((await c.getPrefix("lease/r/")).kvs).toEqual([]);
    expect((await lease.ended).reason).toBe("revoked");
    await expect(c.timeToLive(lease.id)).rejects.toMatchObject({ code: "lease_not_found", status: 404 });
    await expect(c.revoke(lease.id)).rejects.toMatchObject({ code: "lease_not_found" });
  });

  it("reports a lease revoked elsewhere as lost (not_found)", async () => {
    const c = served.client();
    const other = served.client();
    const lease = await c.grant(1);
    const lost: LeaseEnd[] = [];
    lease.onLost((end) => lost.push(end));
    await other.revoke(lease.id);
    const end = await lease.ended;
    expect(end.reason).toBe("not_found");
    expect(end.error?.code).toBe("lease_not_found");
    expect(lost).toEqual([end]);
  });

  it("reports keepalive_timeout when no renewal succeeds within the TTL", async () => {
    const { listener, url } = await served.listen();
    const c = served.client({
      endpoints: [url],
      retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
    });
    const lease = await c.grant(1);
    await listener.close(); // the only endpoint is gone
    const end = await lease.ended;
    expect(end.reason).toBe("keepalive_timeout");
    expect(end.error?.code).toBe("lease_lost");
  }, 10_000);

  it("grant without keep-alive, keepAliveOnce, explicit id, list", async () => {
    const c = served.client();
    const lease = await c.grant(5, { keepAlive: false, id: 777_001 });
    expect(lease.id).toBe(777_001);
    expect(await c.keepAliveOnce(lease.id)).toBe(5);
    await expect(c.grant(5, { id: 777_001 })).rejects.toMatchObject({ code: "lease_exists" });
    const list = await c.leaseList();
    expect(list.leases).toContainEqual({ id: 777_001, grantedTtl: 5 });
    expect(await c.revoke(lease.id)).toBeGreaterThan(0);
    await expect(c.grant(0)).rejects.toMatchObject({ code: "invalid_argument" });
  });
});
