/**
 * `cairn watch`, `cairn lock` and `cairn elect` as real processes (bin/cairn.mjs) against a real
 * three-member cluster: Ctrl-C (SIGINT) releases the lock and resigns; a command run under the
 * lock gets etcdctl's environment and its exit code is cairn's; a watch whose member is killed
 * resumes on another endpoint with every event exactly once.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putKey, TestCluster } from "../helpers/cluster.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/cairn.mjs");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A running cairn process with its output so far. */
interface Proc {
  child: ChildProcess;
  out(): string;
  err(): string;
  exit: Promise<number | null>;
}

function run(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("cairn watch / lock / elect processes against a real cluster", () => {
  let cluster: TestCluster;
  let endpoints: string;
  const url = (i: number) => cluster.members[i]!.clientUrl;

  async function keysUnder(prefix: string, at = 1): Promise<string[]> {
    const r = await fetch(`${url(at)}/v1/kv/${prefix}?prefix=true&keys_only=true`);
    return ((await r.json()) as { kvs: { key: string }[] }).kvs.map((k) => k.key);
  }

  beforeAll(async () => {
    cluster = await TestCluster.create(3);
    await cluster.startAll();
    endpoints = cluster.members.map((m) => m.clientUrl).join(",");
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("lock NAME holds the lock until SIGINT, then releases it and exits 0", async () => {
    const p = run(["--endpoints", endpoints, "lock", "e2e-held"]);
    await until(() => p.out().includes("\n"), 15_000, "the lock key");
    const key = p.out().split("\n")[0]!;
    expect(key).toMatch(/^e2e-held\/[0-9a-f]+$/);
    expect(await keysUnder("e2e-held/")).toEqual([key]);
    p.child.kill("SIGINT");
    expect(await p.exit).toBe(0);
    expect(await keysUnder("e2e-held/")).toEqual([]);
  }, 30_000);

  it("lock NAME command… runs it with the lock env and exits with its code", () => {
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        "--endpoints",
        endpoints,
        "lock",
        "e2e-cmd",
        "sh",
        "-c",
        'echo "$ETCD_LOCK_KEY $CAIRN_LOCK_REV"; exit 3',
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^e2e-cmd\/[0-9a-f]+ \d+\n$/);
  });

  it("elect NAME PROPOSAL resigns on SIGINT; elect NAME prints the leaders", async () => {
    const observer = run(["--endpoints", endpoints, "elect", "e2e-election"]);
    const candidate = run(["--endpoints", endpoints, "elect", "e2e-election", "me"]);
    await until(() => candidate.out().includes("me\n"), 15_000, "elected");
    await until(() => observer.out().includes("me\n"), 15_000, "observed");
    expect(observer.out()).toBe(candidate.out());
    candidate.child.kill("SIGINT");
    expect(await candidate.exit).toBe(0);
    expect(await keysUnder("e2e-election/")).toEqual([]);
    observer.child.kill("SIGINT");
    expect(await observer.exit).toBe(0);
  }, 30_000);

  it("watch resumes on another endpoint when its member is killed: every event exactly once", async () => {
    // Connect the watch to a follower, so that killing it leaves the cluster writable.
    const leader = await cluster.waitForLeader();
    const victim = cluster.members.find((m) => m !== leader)!;
    const others = cluster.members.filter((m) => m !== victim).map((m) => m.clientUrl);
    const w = run(["--endpoints", [victim.clientUrl, ...others].join(","), "watch", "e2e-w/", "--prefix"]);
    await sleep(1_000);
    const writer = leader.clientUrl;
    for (let i = 0; i < 5; i++) await putKey(writer, `e2e-w/${i}`, `v${i}`);
    await until(() => w.out().includes("e2e-w/4\n"), 10_000, "first events");
    await cluster.kill(victim);
    for (let i = 5; i < 10; i++) await putKey(writer, `e2e-w/${i}`, `v${i}`);
    await until(() => w.out().includes("e2e-w/9\n"), 30_000, "events after the kill");
    w.child.kill("SIGINT");
    expect(await w.exit).toBe(0);
    const expected = Array.from({ length: 10 }, (_, i) => `PUT\ne2e-w/${i}\nv${i}\n`).join("");
    expect(w.out()).toBe(expected);
  }, 60_000);
});
