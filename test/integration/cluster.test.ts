/**
 * Three real `cairn serve` processes with mutual TLS on loopback (issue: foundation):
 * replication and linearizable reads on followers, leader crash and re-election, catch-up of a
 * restarted member, full restart durability, and refusal of peers without a client certificate.
 */
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getKey, putKey, TestCluster } from "../helpers/cluster.ts";

describe("three-member cluster of real processes", () => {
  let cluster: TestCluster;
  const acknowledged = new Map<string, string>();

  beforeAll(async () => {
    cluster = await TestCluster.create(3);
    await cluster.startAll();
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("a put on the leader is read linearizably on every follower", async () => {
    const leader = await cluster.waitForLeader();
    await putKey(leader.clientUrl, "greeting", "hello");
    acknowledged.set("greeting", "hello");
    for (const m of cluster.members) {
      expect(await getKey(m.clientUrl, "greeting")).toBe("hello");
    }
  });

  it("a follower accepts a write and forwards it to the leader", async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await putKey(follower.clientUrl, "via-follower", "yes");
    acknowledged.set("via-follower", "yes");
    expect(await getKey(leader.clientUrl, "via-follower")).toBe("yes");
  });

  it("kill -9 of the leader: a new leader within 3 s, writes go on, the old leader catches up", async () => {
    const oldLeader = await cluster.waitForLeader();
    const killedAt = Date.now();
    await cluster.kill(oldLeader);
    const newLeader = await cluster.waitForLeader(3_000, oldLeader);
    const electionMs = Date.now() - killedAt;
    expect(newLeader).not.toBe(oldLeader);
    expect(electionMs).toBeLessThan(3_000);
    for (let i = 0; i < 20; i++) {
      await putKey(newLeader.clientUrl, `after-crash-${i}`, `v${i}`);
      acknowledged.set(`after-crash-${i}`, `v${i}`);
    }
    cluster.start(oldLeader);
    await cluster.waitForLeader(15_000);
    // The restarted member must serve every acknowledged write, even from its local state.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const got = await getKey(oldLeader.clientUrl, "after-crash-19", "serializable").catch(() => null);
      if (got === "v19") break;
      if (Date.now() > deadline) throw new Error(`old leader did not catch up:\n${oldLeader.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const [k, v] of acknowledged) expect(await getKey(oldLeader.clientUrl, k)).toBe(v);
  }, 60_000);

  it("stop all and start all: every acknowledged key is there", async () => {
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 50; i++) {
      await putKey(leader.clientUrl, `durable-${i}`, `d${i}`);
      acknowledged.set(`durable-${i}`, `d${i}`);
    }
    await Promise.all(cluster.members.map((m) => cluster.kill(m)));
    await cluster.startAll();
    for (const m of cluster.members) {
      for (const [k, v] of acknowledged) expect(await getKey(m.clientUrl, k)).toBe(v);
    }
  }, 90_000);

  it("a peer connection without a client certificate is refused", async () => {
    const peer = cluster.members[0]!;
    const outcome = await new Promise<string>((resolve) => {
      const session = http2.connect(peer.peerUrl, { rejectUnauthorized: false });
      session.on("error", (err) => resolve(`error: ${err.message}`));
      const req = session.request({ ":path": "/cairn/cluster" });
      req.on("response", (headers) => resolve(`status ${headers[":status"]}`));
      req.on("error", (err) => resolve(`error: ${err.message}`));
      req.end();
      setTimeout(() => resolve("timeout"), 5_000).unref();
    }).finally(() => undefined);
    expect(outcome).toMatch(/^error/);
  });
});
