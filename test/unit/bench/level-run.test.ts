import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LevelRun, runLevel } from "../../../bench/load.ts";
import { makeWorkload } from "../../../bench/workload.ts";

/** A loopback server answering /v3/kv/put like etcd's gateway; every `failEvery`-th request gets 503. */
async function gateway(
  failEvery = 0,
): Promise<{ url: string; seen: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      n++;
      if (failEvery > 0 && n % failEvery === 0) {
        res.writeHead(503, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "etcdserver: leader changed", code: 14, message: "leader changed" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ header: { revision: String(n) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen: () => n,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("LevelRun (bench/load.ts): one level measured in slices", () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it("adds the slices up, leaves the warm-up out, and counts failed answers as errors", async () => {
    const g = await gateway(10);
    closers.push(g.close);
    const run = new LevelRun(
      { name: "t", endpoints: [g.url] },
      "put",
      { clients: 2, requestTimeoutMs: 5_000 },
      makeWorkload(),
    );
    try {
      await run.warmUp(50);
      const afterWarmUp = g.seen();
      expect(afterWarmUp).toBeGreaterThan(0);
      expect(run.result().ok + run.result().errors).toBe(0);
      await run.measure(0, 30);
      await run.measure(0, 20);
      const r = run.result();
      expect(r.ok + r.errors).toBe(50);
      expect(g.seen() - afterWarmUp).toBe(50);
      expect(r.errors).toBe(5);
      expect(Object.keys(r.errorKinds)).toEqual(["http 503: leader changed"]);
      expect(r.requestsPerSecond).toBeCloseTo(r.ok / (r.elapsedMs / 1000), 6);
      expect(r.p50Ms).toBeGreaterThan(0);
    } finally {
      run.close();
    }
  });

  it("refuses a client count out of range and a slice without a duration or request budget", async () => {
    const w = makeWorkload();
    expect(
      () =>
        new LevelRun(
          { name: "t", endpoints: ["http://127.0.0.1:1"] },
          "put",
          { clients: 0, requestTimeoutMs: 1 },
          w,
        ),
    ).toThrow(/clients must be 1\.\.4096/);
    expect(
      () => new LevelRun({ name: "t", endpoints: [] }, "put", { clients: 1, requestTimeoutMs: 1 }, w),
    ).toThrow(/has no endpoints/);
    const run = new LevelRun(
      { name: "t", endpoints: ["http://127.0.0.1:1"] },
      "put",
      { clients: 1, requestTimeoutMs: 1 },
      w,
    );
    try {
      await expect(run.measure(0)).rejects.toThrow(/duration must be/);
    } finally {
      run.close();
    }
  });

  it("runLevel refuses a bad duration before its warm-up sends anything", async () => {
    const g = await gateway();
    closers.push(g.close);
    const opts = { clients: 1, durationMs: Number.NaN, warmupMs: 200, requestTimeoutMs: 5_000 };
    await expect(runLevel({ name: "t", endpoints: [g.url] }, "put", opts, makeWorkload())).rejects.toThrow(
      /duration must be/,
    );
    expect(g.seen()).toBe(0);
  });
});
