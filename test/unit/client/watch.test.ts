/**
 * CairnClient.watch against a real single node served on loopback: events in revision order
 * with prevKv and filters, the async iterator, resume after the connection is cut (listener closed
 * and reopened on the same port) with no event missed or repeated, failover between two listeners
 * of the same node, an idle stream given up, compaction surfaced with its compact revision, and
 * cancel().
 */
import { describe, expect, it } from "vitest";
import { CompactedError, type WatchEvent, type WatchNotice } from "../../../src/client/index.ts";
import { delay, eventually, useServedNode } from "./helpers.ts";

const served = useServedNode();

describe("CairnClient.watch", () => {
  it("delivers puts and deletes of a prefix in revision order, prevKv when asked", async () => {
    const c = served.client();
    const seen: WatchNotice[] = [];
    const w = c.watch("w1/", { prefix: true, prevKv: true }, (ev) => {
      seen.push(ev);
    });
    await w.ready;
    const a = await c.put("w1/a", "1");
    const b = await c.put("w1/a", "2");
    await c.put("w2/outside", "x");
    const d = await c.delete("w1/a");
    await eventually("three events", () => seen.length === 3);
    expect(seen.map((e) => e.type)).toEqual(["put", "put", "delete"]);
    const [e1, e2, e3] = seen as WatchEvent[];
    expect(e1).toMatchObject({ revision: a.revision, kv: { key: "w1/a", value: "1", version: 1 } });
    expect(e1!.prevKv).toBeUndefined();
    expect(e2).toMatchObject({
      revision: b.revision,
      kv: { value: "2", version: 2 },
      prevKv: { value: "1" },
    });
    expect(e3).toMatchObject({ revision: d.revision, kv: { key: "w1/a", modRevision: d.revision } });
    expect(w.revision).toBeGreaterThanOrEqual(d.revision);
    w.cancel();
    expect(await w.done).toEqual({ reason: "cancelled" });
  });

  it("replays history from startRevision and applies filters", async () => {
    const c = served.client();
    const p1 = await c.put("w3/k", "1");
    await c.delete("w3/k");
    const p2 = await c.put("w3/k", "2");
    const seen: WatchEvent[] = [];
    const w = c.watch("w3/k", { startRevision: p1.revision, filters: ["nodelete"] }, (ev) => {
      if (ev.type !== "compacted") seen.push(ev);
    });
    await eventually("two puts", () => seen.length === 2);
    expect(seen.map((e) => [e.type, e.revision, e.kv.value])).toEqual([
      ["put", p1.revision, "1"],
      ["put", p2.revision, "2"],
    ]);
    w.cancel();
  });

  it("works as an async iterator that ends on cancel", async () => {
    const c = served.client();
    const w = c.watch("w4/", { prefix: true });
    await w.ready;
    for (let i = 0; i < 3; i++) await c.put(`w4/${i}`, String(i));
    const got: string[] = [];
    for await (const ev of w) {
      got.push(ev.kv.value);
      if (got.length === 3) w.cancel();
    }
    expect(got).toEqual(["0", "1", "2"]);
  });

  it("resumes after the connection is cut: every event once, none missed (Last-Event-ID)", async () => {
    const { listener, url } = await served.listen();
    const port = listener.port;
    const watcher = served.client({ endpoints: [url] });
    const writer = served.client(); // through the main listener, which stays up
    const seen: WatchEvent[] = [];
    const w = watcher.watch("w5/", { prefix: true }, (ev) => {
      if (ev.type !== "compacted") seen.push(ev);
    });
    await w.ready;
    const written: number[] = [];
    for (let i = 0; i < 5; i++) written.push((await writer.put(`w5/${i}`, `v${i}`)).revision);
    await eventually("first five", () => seen.length === 5);
    await listener.close(); // destroys the SSE connection, as a crashed member would
    for (let i = 5; i < 10; i++) written.push((await writer.put(`w5/${i}`, `v${i}`)).revision);
    await delay(100);
    await served.listen(port); // the member is back on the same address
    for (let i = 10; i < 15; i++) written.push((await writer.put(`w5/${i}`, `v${i}`)).revision);
    await eventually("all fifteen", () => seen.length >= 15);
    await delay(100);
    expect(seen.map((e) => e.revision)).toEqual(written);
    expect(seen.map((e) => e.kv.value)).toEqual(written.map((_, i) => `v${i}`));
    expect(w.connections).toBeGreaterThanOrEqual(2);
    w.cancel();
  });

  it("fails over to the next endpoint when one goes away", async () => {
    const first = await served.listen();
    const second = await served.listen();
    const watcher = served.client({ endpoints: [first.url, second.url] });
    const writer = served.client();
    const seen: number[] = [];
    const w = watcher.watch("w6/", { prefix: true }, (ev) => {
      if (ev.type !== "compacted") seen.push(ev.revision);
    });
    await w.ready;
    const written: number[] = [];
    written.push((await writer.put("w6/a", "1")).revision);
    await eventually("first event", () => seen.length === 1);
    await first.listener.close();
    for (let i = 0; i < 5; i++) written.push((await writer.put("w6/a", String(i))).revision);
    await eventually("events after failover", () => seen.length === written.length);
    expect(seen).toEqual(written);
    expect(watcher.endpoint).toBe(second.url);
    // KV calls of the same client follow the failover too.
    expect((await watcher.get("w6/a")).kv?.value).toBe("4");
    w.cancel();
  });

  it("gives up a stream that goes silent (no heartbeat) and resumes elsewhere", async () => {
    // A fake endpoint that accepts the watch and then sends nothing, before the real one.
    const http = await import("node:http");
    const silent = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('event: created\nid: 1\ndata: {"revision":1,"start_revision":2}\n\n');
      req.on("close", () => res.end());
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      const writer = served.client();
      const start = (await writer.put("w7/k", "before")).revision;
      const watcher = served.client({ endpoints: [silentUrl, served.url], watchIdleTimeoutMs: 300 });
      const seen: WatchEvent[] = [];
      const w = watcher.watch("w7/k", { startRevision: start }, (ev) => {
        if (ev.type !== "compacted") seen.push(ev);
      });
      await eventually("the event after failover", () => seen.length === 1, 5_000);
      expect(seen[0]).toMatchObject({ revision: start, kv: { value: "before" } });
      expect(watcher.endpoint).toBe(served.url);
      w.cancel();
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });

  it("surfaces compaction as a final notice / CompactedError with the compact revision", async () => {
    const c = served.client();
    const a = await c.put("w8/k", "1");
    const b = await c.put("w8/k", "2");
    await c.compact(b.revision);
    const notices: WatchNotice[] = [];
    const w = c.watch("w8/k", { startRevision: a.revision }, (ev) => {
      notices.push(ev);
    });
    const end = await w.done;
    expect(end.reason).toBe("compacted");
    expect(end.reason === "compacted" && end.compactRevision).toBe(b.revision);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ type: "compacted", compactRevision: b.revision });

    const it2 = c.watch("w8/k", { startRevision: a.revision });
    const err = await (async () => {
      for await (const _ of it2) {
        // no event comes before the compaction notice
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompactedError);
    expect((err as CompactedError).compactRevision).toBe(b.revision);
  });

  it("ends with the error of a bad request, without retrying", async () => {
    const c = served.client();
    const w = c.watch("w9/", { prefix: true, rangeEnd: undefined, startRevision: -1 });
    const end = await w.done;
    expect(end.reason).toBe("error");
    expect(end.reason === "error" && (end.error as { code: string }).code).toBe("invalid_argument");
  });

  it("ends when the callback throws, with its error", async () => {
    const c = served.client();
    const boom = new Error("boom");
    const w = c.watch("w10/k", {}, () => {
      throw boom;
    });
    await w.ready;
    await c.put("w10/k", "x");
    expect(await w.done).toEqual({ reason: "error", error: boom });
  });
});
