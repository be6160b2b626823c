/**
 * The `cairn` CLI (bin/cairn.mjs) against a real three-member cluster: put/get/del/txn, member
 * list and endpoint status/health, failover across --endpoints, and error exits.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts, TestCluster } from "../helpers/cluster.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/cairn.mjs");

function cairn(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: "utf8", timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("cairn CLI against a real cluster", () => {
  let cluster: TestCluster;
  let endpoints: string;

  beforeAll(async () => {
    cluster = await TestCluster.create(3);
    await cluster.startAll();
    endpoints = cluster.members.map((m) => m.clientUrl).join(",");
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("put, get, get --prefix, del", () => {
    expect(cairn(["--endpoints", endpoints, "put", "app/a", "1"]).code).toBe(0);
    expect(cairn(["--endpoints", endpoints, "put", "app/b", "2"]).code).toBe(0);
    const get = cairn(["--endpoints", endpoints, "get", "app/a"]);
    expect(get.stdout).toBe("app/a\n1\n");
    const list = cairn(["--endpoints", endpoints, "get", "app/", "--prefix", "--keys-only"]);
    expect(list.stdout.split("\n").filter(Boolean)).toEqual(["app/a", "app/b"]);
    const del = cairn(["--endpoints", endpoints, "del", "app/", "--prefix"]);
    expect(del.code).toBe(0);
    expect(del.stdout.trim()).toBe("2");
    expect(cairn(["--endpoints", endpoints, "get", "app/a"]).stdout).toBe("");
  });

  it("txn from stdin", () => {
    const req = {
      compare: [{ key: "t", target: "version", result: "=", version: 0 }],
      success: [{ put: { key: "t", value: "created" } }],
      failure: [{ get: { key: "t" } }],
    };
    const first = cairn(["--endpoints", endpoints, "txn"], JSON.stringify(req));
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/SUCCESS/);
    const second = cairn(["--endpoints", endpoints, "txn"], JSON.stringify(req));
    expect(second.stdout).toMatch(/FAILURE/);
  });

  it("member list and endpoint status as tables", () => {
    const members = cairn(["--endpoints", endpoints, "member", "list", "-w", "table"]);
    expect(members.code).toBe(0);
    for (const m of cluster.members) expect(members.stdout).toContain(m.name);
    const status = cairn(["--endpoints", endpoints, "endpoint", "status", "-w", "table"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/ENDPOINT.*ID.*VERSION.*DB SIZE.*IS LEADER.*RAFT TERM.*RAFT INDEX/s);
    expect(status.stdout.match(/\btrue\b/g)?.length).toBe(1);
    const health = cairn(["--endpoints", endpoints, "endpoint", "health"]);
    expect(health.code).toBe(0);
    expect(health.stdout.match(/is healthy/g)?.length).toBe(3);
  });

  it("fails over past a dead endpoint, and fails with a message when none answers", async () => {
    const dead = `http://127.0.0.1:${(await freePorts(1))[0]}`;
    const put = cairn(["--endpoints", `${dead},${endpoints}`, "put", "fo", "ok"]);
    expect(put.code).toBe(0);
    expect(cairn(["--endpoints", `${dead},${endpoints}`, "get", "fo"]).stdout).toBe("fo\nok\n");
    const none = cairn(["--endpoints", dead, "--command-timeout", "2000", "get", "fo"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^Error: /);
  });

  it("usage errors exit 2", () => {
    expect(cairn(["put"]).code).toBe(2);
  });
});
