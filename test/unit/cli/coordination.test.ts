/**
 * `cairn watch`, `cairn lock` and `cairn elect` in-process against the real API over a real
 * single-member node: etcdctl's output, watch resuming after a dropped connection with nothing
 * missed or repeated, lock running a command with ETCD_LOCK_* / CAIRN_LOCK_* and releasing the
 * lock after it, and elect printing the leaders as they change.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import { type MemoryIo, memoryIo } from "../../../src/cli/io.ts";
import { runCli } from "../../../src/cli/program.ts";
import { startSingleNode } from "../../helpers/single-node.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let node: Awaited<ReturnType<typeof startSingleNode>>;
let server: ServerType;
let endpoint = "";
let tmp = "";

beforeAll(async () => {
  node = await startSingleNode();
  const app = createApp({
    kv: node.kv,
    cluster: node.node,
    maxRequestBytes: 64 * 1024,
    version: "test",
    watchHeartbeatMs: 200,
  });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) =>
      resolve(info.port),
    );
  });
  endpoint = `http://127.0.0.1:${port}`;
  tmp = mkdtempSync(path.join(os.tmpdir(), "cairn-cli-lock-"));
});

afterAll(async () => {
  (server as unknown as { closeAllConnections(): void }).closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await node.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A command run that goes on in the background until stop(). */
interface Running {
  io: MemoryIo;
  done: Promise<number>;
  stop(): Promise<number>;
}

function start(args: string[], endpoints = endpoint): Running {
  const ctl = new AbortController();
  const io = memoryIo("", { PATH: process.env.PATH }, ctl.signal);
  const done = runCli(["--endpoints", endpoints, ...args], io);
  return {
    io,
    done,
    stop: async () => {
      ctl.abort();
      return done;
    },
  };
}

async function cli(args: string[]) {
  const io = memoryIo("", { PATH: process.env.PATH });
  const code = await runCli(["--endpoints", endpoint, ...args], io);
  return { code, out: io.out(), err: io.err() };
}

/** Waits until `check` holds (every 20 ms, at most `ms`). */
async function until(check: () => boolean | Promise<boolean>, ms = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function keysUnder(prefix: string): Promise<string[]> {
  const r = await fetch(`${endpoint}/v1/kv/${prefix}?prefix=true&keys_only=true`);
  return ((await r.json()) as { kvs: { key: string }[] }).kvs.map((k) => k.key);
}

async function leaseIds(): Promise<number[]> {
  const r = await fetch(`${endpoint}/v1/leases`);
  return ((await r.json()) as { leases: { id: number }[] }).leases.map((l) => l.id);
}

/** A TCP proxy to the node whose connections can be cut. */
async function proxy(): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const target = new URL(endpoint);
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

describe("cairn watch", () => {
  it("prints events as etcdctl, with --prev-kv, and -w json one line per revision", async () => {
    const w = start(["watch", "wa/", "--prefix", "--prev-kv"]);
    const j = start(["-w", "json", "watch", "wa/x"]);
    await sleep(200);
    await cli(["put", "wa/x", "1"]);
    await cli(["put", "wa/x", "2"]);
    await cli(["del", "wa/x"]);
    await until(() => w.io.out().includes("DELETE") && j.io.out().split("\n").length > 3, 5_000, "events");
    expect(await w.stop()).toBe(0);
    expect(await j.stop()).toBe(0);
    expect(w.io.out()).toBe("PUT\nwa/x\n1\nPUT\nwa/x\n1\nwa/x\n2\nDELETE\nwa/x\n2\nwa/x\n\n");
    const lines = j.io
      .out()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.events.map((e: { type: string }) => e.type))).toEqual([
      ["PUT"],
      ["PUT"],
      ["DELETE"],
    ]);
    expect(lines[1].revision).toBe(lines[0].revision + 1);
    expect(lines[1].events[0].kv).toMatchObject({ key: "wa/x", value: "2", version: 2 });
  });

  it("--rev replays history; a compacted revision ends with etcdctl's error", async () => {
    const first = JSON.parse((await cli(["-w", "json", "put", "wr", "a"])).out).revision as number;
    await cli(["put", "wr", "b"]);
    const w = start(["watch", "wr", "--rev", String(first)]);
    await until(() => w.io.out().split("\n").length >= 7, 5_000, "replay");
    expect(await w.stop()).toBe(0);
    expect(w.io.out()).toBe("PUT\nwr\na\nPUT\nwr\nb\n");
    await cli(["compaction", String(first + 1)]);
    const compacted = await cli(["watch", "wr", "--rev", String(first)]);
    expect(compacted).toEqual({
      code: 1,
      out: "",
      err: "Error: watch was canceled (etcdserver: mvcc: required revision has been compacted)\n",
    });
  });

  it("resumes on the next endpoint after a dropped connection: nothing missed, nothing repeated", async () => {
    const p = await proxy();
    try {
      const w = start(["watch", "wd/", "--prefix"], `${p.url},${endpoint}`);
      await sleep(200);
      await cli(["put", "wd/1", "a"]);
      await cli(["put", "wd/2", "b"]);
      await until(() => w.io.out().includes("wd/2"), 5_000, "first events");
      p.cut();
      await p.close(); // the proxy is gone: the watch must move on to the node itself
      await cli(["put", "wd/3", "c"]);
      await cli(["del", "wd/1"]);
      await cli(["put", "wd/4", "d"]);
      await until(() => w.io.out().includes("wd/4"), 10_000, "events after the drop");
      await cli(["put", "wd/5", "e"]);
      await until(() => w.io.out().includes("wd/5"), 5_000, "live events after the drop");
      expect(await w.stop()).toBe(0);
      expect(w.io.out()).toBe(
        "PUT\nwd/1\na\nPUT\nwd/2\nb\nPUT\nwd/3\nc\nDELETE\nwd/1\n\nPUT\nwd/4\nd\nPUT\nwd/5\ne\n",
      );
    } finally {
      p.cut();
    }
  });

  it("usage errors", async () => {
    expect((await cli(["watch", "a", "b", "--prefix"])).code).toBe(2);
    expect((await cli(["watch", "a", "--rev", "x"])).code).toBe(2);
    expect((await cli(["-w", "table", "watch", "a"])).code).toBe(2);
  });
});

describe("cairn lock", () => {
  it("runs the command with the lock env, holds the lock meanwhile, releases it and exits with its code", async () => {
    const file = path.join(tmp, "env.txt");
    const run = cli([
      "lock",
      "job",
      "--",
      "sh",
      "-c",
      `echo "$ETCD_LOCK_KEY $ETCD_LOCK_REV $CAIRN_LOCK_KEY $CAIRN_LOCK_REV $CAIRN_LOCK_FENCING_TOKEN" > ${file}; sleep 0.5; exit 7`,
    ]);
    await until(async () => (await keysUnder("job/")).length === 1, 5_000, "the lock key");
    const held = await keysUnder("job/");
    const r = await run;
    expect(r).toEqual({ code: 7, out: "", err: "" });
    const [key, rev, cairnKey, cairnRev, token] = readFileSync(file, "utf8").trim().split(" ");
    expect(key).toMatch(/^job\/[0-9a-f]+$/);
    expect(held).toEqual([key]);
    expect(cairnKey).toBe(key);
    expect(cairnRev).toBe(rev);
    expect(Number(rev)).toBeGreaterThanOrEqual(Number(token));
    expect(await keysUnder("job/")).toEqual([]);
    const lease = Number.parseInt(key!.split("/")[1]!, 16);
    expect(await leaseIds()).not.toContain(lease);
  });

  it("a second lock waits for the command of the first; exit 0 when the command succeeds", async () => {
    const order = path.join(tmp, "order.txt");
    const first = cli([
      "lock",
      "serial",
      "sh",
      "-c",
      `echo first >> ${order}; sleep 0.6; echo first-done >> ${order}`,
    ]);
    await until(async () => (await keysUnder("serial/")).length === 1, 5_000, "first holder");
    const second = cli(["lock", "serial", "sh", "-c", `echo second >> ${order}`]);
    expect((await first).code).toBe(0);
    expect((await second).code).toBe(0);
    expect(readFileSync(order, "utf8")).toBe("first\nfirst-done\nsecond\n");
  });

  it("without a command prints the key as etcdctl and holds the lock until interrupted", async () => {
    const l = start(["lock", "held", "--ttl", "5"]);
    await until(() => l.io.out() !== "", 5_000, "the key");
    const key = l.io.out().split("\n")[0]!;
    expect(l.io.out()).toBe(`${key}\n\n`);
    expect(key).toMatch(/^held\/[0-9a-f]+$/);
    // Held past its TTL thanks to the keep-alive.
    await sleep(5_500);
    expect(await keysUnder("held/")).toEqual([key]);
    expect(await l.stop()).toBe(0);
    expect(await keysUnder("held/")).toEqual([]);
    expect(await leaseIds()).not.toContain(Number.parseInt(key.split("/")[1]!, 16));
  }, 15_000);

  it("fails with 'session expired' when its lease is revoked", async () => {
    const l = start(["lock", "revoked", "--ttl", "3"]);
    await until(() => l.io.out() !== "", 5_000, "the key");
    const lease = l.io.out().split("\n")[0]!.split("/")[1]!;
    expect((await cli(["lease", "revoke", lease])).code).toBe(0);
    expect(await l.done).toBe(1);
    expect(l.io.err()).toBe("Error: session expired\n");
  });

  it("-w json prints the lock answer", async () => {
    const l = start(["-w", "json", "lock", "jsonlock"]);
    await until(() => l.io.out() !== "", 5_000, "the answer");
    const answer = JSON.parse(l.io.out());
    expect(answer).toMatchObject({ name: "jsonlock", key: expect.stringMatching(/^jsonlock\//) });
    expect(answer.fencing_token).toBeGreaterThan(0);
    expect(await l.stop()).toBe(0);
  });
});

describe("cairn elect", () => {
  it("prints leaders as they change; a candidate prints its key once elected and resigns on exit", async () => {
    const observer = start(["elect", "office"]);
    const a = start(["elect", "office", "alice"]);
    await until(() => a.io.out() !== "", 5_000, "alice elected");
    const aliceKey = a.io.out().split("\n")[0]!;
    expect(a.io.out()).toBe(`${aliceKey}\nalice\n`);
    const b = start(["elect", "office", "bob"]);
    await until(() => observer.io.out().includes("alice"), 5_000, "observer sees alice");
    await sleep(200);
    expect(b.io.out()).toBe(""); // waiting
    expect(await a.stop()).toBe(0); // resigns
    await until(() => b.io.out() !== "", 5_000, "bob elected");
    const bobKey = b.io.out().split("\n")[0]!;
    expect(b.io.out()).toBe(`${bobKey}\nbob\n`);
    await until(() => observer.io.out().includes("bob"), 5_000, "observer sees bob");
    expect(await b.stop()).toBe(0);
    expect(await observer.stop()).toBe(0);
    expect(observer.io.out()).toBe(`${aliceKey}\nalice\n${bobKey}\nbob\n`);
    expect(await keysUnder("office/")).toEqual([]);
  });

  it("-l observes even with a proposal; -w json prints {revision, kv}", async () => {
    const observer = start(["-w", "json", "elect", "-l", "room", "ignored"]);
    const c = start(["elect", "room", "carol"]);
    await until(() => observer.io.out() !== "", 5_000, "carol seen");
    const seen = JSON.parse(observer.io.out().split("\n")[0]!);
    expect(seen.kv).toMatchObject({ value: "carol", key: expect.stringMatching(/^room\//) });
    expect(await c.stop()).toBe(0);
    expect(await observer.stop()).toBe(0);
    expect(await keysUnder("room/")).toEqual([]);
  });
});
