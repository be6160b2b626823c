/**
 * Regression tests of two bugs the nemesis found (bench/nemesis.ts), both fixed: a learner added
 * at runtime never caught up
 * 1. behind a leader that was itself added at runtime: the joining member addressed its peers by
 *    ids derived from --initial-cluster instead of the ids the running cluster gave them (it now
 *    uses the member list it fetched, as etcd does with GetClusterFromRemotePeers);
 * 2. after the leader's latest stored snapshot: that snapshot's configuration predated the
 *    learner, which refused it (the leader now sends a snapshot of its applied state with the
 *    current configuration, as etcd's createMergedSnapshotMessage).
 */
import { afterEach, describe, expect, it } from "vitest";
import { apiJson, putKey, TestCluster, type TestMember } from "../helpers/cluster.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

function api(url: string, method: string, path: string, body?: unknown) {
  return apiJson<{ member?: { id: string } }>(url, method, path, body);
}

/** Adds `name` as a learner through `via`, starts it, and tries to promote it for `waitMs`. */
async function addAndPromote(c: TestCluster, via: TestMember, name: string, waitMs = 20_000) {
  const m = await c.defineMember(name);
  const added = await api(via.clientUrl, "POST", "/v1/cluster/members", {
    peer_urls: [m.peerUrl],
    is_learner: true,
  });
  expect(added.status).toBe(201);
  const id = added.json.member!.id;
  c.start(m, "existing");
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    await sleep(500);
    if ((await api(via.clientUrl, "POST", `/v1/cluster/members/${id}/promote`)).status === 200)
      return { m, id };
  }
  const s = await c.status(m);
  throw new Error(
    `${name} not promoted within ${waitMs} ms (its applied index: ${s?.applied_index}); its stderr:\n${m.stderr.slice(-1500)}`,
  );
}

describe("learners added at runtime catch up", () => {
  it("a learner catches up behind a leader that was itself added at runtime", async () => {
    cluster = await TestCluster.create(3);
    for (const m of cluster.members) cluster.start(m);
    let leader = await cluster.waitForLeader(30_000);
    for (let i = 0; i < 20; i++) await putKey(leader.clientUrl, `k${i}`, `v${i}`);
    const { id } = await addAndPromote(cluster, leader, "m4"); // works: the leader is a bootstrap member
    // A transfer can time out on a loaded machine (503, retryable): ask again, bounded.
    let moved = await api(leader.clientUrl, "POST", "/v1/cluster/move-leader", { target_id: id });
    for (let i = 0; i < 5 && moved.status === 503; i++) {
      await sleep(500);
      leader = await cluster.waitForLeader(30_000);
      moved = await api(leader.clientUrl, "POST", "/v1/cluster/move-leader", { target_id: id });
    }
    expect(moved.status).toBe(200);
    leader = await cluster.waitForLeader(30_000);
    expect(leader.name).toBe("m4");
    await addAndPromote(cluster, leader, "m5"); // m5 stayed at index 0 before the fix
  }, 90_000);

  it("a learner added after the leader's latest snapshot catches up", async () => {
    cluster = await TestCluster.create(3, {
      extraFlags: ["--snapshot-count=100", "--snapshot-catchup-entries=10"],
    });
    for (const m of cluster.members) cluster.start(m);
    const leader = await cluster.waitForLeader(30_000);
    for (let i = 0; i < 150; i++) await putKey(leader.clientUrl, `k${i}`, `v${i}`); // snapshot at ~100
    await addAndPromote(cluster, leader, "m4"); // the stored snapshot at ~100 lacks m4: refused before the fix
  }, 90_000);
});
