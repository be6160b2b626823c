/**
 * Long-poll GET /v1/kv/{key}?wait=true&after_revision=N (issue 4 §2) against a real single node:
 * answers when a change after N arrives, at once when one is already there, at the timeout with
 * the current revision and no events; compacted → 410; plain GETs unchanged.
 */
import { describe, expect, it } from "vitest";
import { json, post, put, revision } from "./helpers.ts";
import { useNodeApp } from "./watch-helpers.ts";

const api = useNodeApp();

describe("GET /v1/kv/{key}?wait=true", () => {
  it("answers as soon as the key changes after after_revision", async () => {
    const { app } = api;
    await put(app, "lp/a", "old");
    const now = await revision(app);
    const started = Date.now();
    const pending = app.request(`/v1/kv/lp/a?wait=true&after_revision=${now}&timeout_ms=5000`);
    await new Promise((r) => setTimeout(r, 50));
    await put(app, "lp/other", "x");
    const rev = (await json(await put(app, "lp/a", "new", { "content-type": "text/plain" }))).revision;
    const res = await pending;
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(await json(res)).toEqual({
      revision: rev,
      events: [
        {
          type: "PUT",
          kv: {
            key: "lp/a",
            value: "new",
            content_type: "text/plain",
            create_revision: now,
            mod_revision: rev,
            version: 2,
            lease: 0,
          },
        },
      ],
    });
  });

  it("answers at once with every change already after N, and the revision to poll after", async () => {
    const { app } = api;
    const first = (await json(await put(app, "lp/p/1", "a"))).revision;
    await put(app, "lp/q", "not in the prefix");
    await put(app, "lp/p/2", "b");
    await app.request("/v1/kv/lp/p/1", { method: "DELETE" });
    const now = await revision(app);
    const body = await json(
      await app.request(`/v1/kv/lp/p/?prefix=true&wait=true&after_revision=${first - 1}&prev_kv=true`),
    );
    expect(body.revision).toBe(now);
    expect(body.events.map((e: { type: string; kv: { key: string } }) => `${e.type} ${e.kv.key}`)).toEqual([
      "PUT lp/p/1",
      "PUT lp/p/2",
      "DELETE lp/p/1",
    ]);
    expect(body.events[2].prev_kv.value).toBe("a");
  });

  it("answers at the timeout with the current revision and no events", async () => {
    const { app } = api;
    const now = await revision(app);
    const started = Date.now();
    const res = await app.request(`/v1/kv/lp/quiet?wait=true&after_revision=${now}&timeout_ms=150`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ revision: now, events: [] });
  });

  it("waits from now without after_revision", async () => {
    const { app } = api;
    await put(app, "lp/now", "before");
    const res = await app.request("/v1/kv/lp/now?wait=true&timeout_ms=100");
    expect((await json(res)).events).toEqual([]);
  });

  it("answers 410 compacted with compact_revision when N is below the compaction", async () => {
    const { app } = api;
    await put(app, "lp/c", "1");
    const rev = (await json(await put(app, "lp/c", "2"))).revision;
    expect((await post(app, "/v3/kv/compaction", { revision: rev })).status).toBe(200);
    const res = await app.request(`/v1/kv/lp/c?wait=true&after_revision=${rev - 2}`);
    expect(res.status).toBe(410);
    expect((await json(res)).error).toMatchObject({ code: "compacted", compact_revision: rev });
    const ok = await app.request(`/v1/kv/lp/c?wait=true&after_revision=${rev}&timeout_ms=10`);
    expect(ok.status).toBe(200);
  });

  it("refuses wait parameters without wait=true, read parameters with it, and long timeouts", async () => {
    const { app } = api;
    for (const [path, message] of [
      ["/v1/kv/lp/a?after_revision=3", /after_revision needs wait=true/],
      ["/v1/kv/lp/a?timeout_ms=3", /timeout_ms needs wait=true/],
      ["/v1/kv/lp/a?wait=true&rev=3", /rev is not supported with wait=true/],
      ["/v1/kv/lp/a?wait=true&timeout_ms=999999999", /timeout_ms .* over the maximum/],
      ["/v1/kv/lp/a?wait=maybe", /wait must be true or false/],
    ] as const) {
      const res = await app.request(path);
      expect(res.status, path).toBe(400);
      expect((await json(res)).error.message).toMatch(message);
    }
  });

  it("leaves a plain GET as it was (wait=false reads the value)", async () => {
    const { app } = api;
    await put(app, "lp/plain", "value");
    expect(await (await app.request("/v1/kv/lp/plain?wait=false")).text()).toBe("value");
    expect(await (await app.request("/v1/kv/lp/plain")).text()).toBe("value");
  });
});
