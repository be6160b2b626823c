/**
 * Real processes: a follower far behind is caught up by a snapshot after the leader compacted
 * its log (--snapshot-count, --snapshot-catchup-entries), a restart from snapshots keeps every
 * acknowledged key, and a member refuses a data dir of another cluster in plain words.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getKey, putKey, TestCluster } from "../helpers/cluster.ts";

const MAIN = path.resolve(import.meta.dirname, "../../src/cli/main.ts");

describe("snapshots and identity with real processes", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.create(3, {
      extraFlags: ["--snapshot-count=20", "--snapshot-catchup-entries=5"],
    });
    await cluster.startAll();
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("a follower that missed more than the retained log catches up by snapshot", async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await cluster.kill(follower);
    for (let i = 0; i < 120; i++) await putKey(leader.clientUrl, `snap-${i}`, `s${i}`);
    cluster.start(follower);
    const deadline = Date.now() + 20_000;
    while ((await getKey(follower.clientUrl, "snap-119", "serializable").catch(() => null)) !== "s119") {
      if (Date.now() > deadline) throw new Error(`follower did not catch up:\n${follower.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < 120; i++)
      expect(await getKey(follower.clientUrl, `snap-${i}`, "serializable")).toBe(`s${i}`);
    expect(follower.stderr).toContain("restored state from a leader's snapshot");
  }, 60_000);

  it("stop all and start all from snapshots and WAL: nothing acknowledged is lost", async () => {
    await Promise.all(cluster.members.map((m) => cluster.kill(m)));
    await cluster.startAll();
    for (const m of cluster.members) {
      expect(await getKey(m.clientUrl, "snap-0")).toBe("s0");
      expect(await getKey(m.clientUrl, "snap-119")).toBe("s119");
    }
  }, 60_000);

  it("refuses to start on a data dir of another cluster, saying so", async () => {
    const m = cluster.members[0]!;
    await cluster.kill(m);
    const cert = path.join(cluster.dir, "certs");
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        MAIN,
        "serve",
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        "--listen-client-urls=http://127.0.0.1:0",
        `--advertise-client-urls=http://127.0.0.1:1`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${m.name}=${m.peerUrl}`,
        "--initial-cluster-token=another-cluster",
        `--peer-cert-file=${path.join(cert, `${m.name}.crt`)}`,
        `--peer-key-file=${path.join(cert, `${m.name}.key`)}`,
        `--peer-trusted-ca-file=${cluster.caFile}`,
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/belongs to cluster .* but the flags describe this member as .* of cluster/);
    expect(r.stderr).toMatch(/--initial-cluster-token/);
  }, 40_000);
});
