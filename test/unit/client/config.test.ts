/**
 * watchConfig (a materialized view of a prefix) and service registration / discovery against a
 * real single node: the view after the first read and after each change; a compaction while the
 * view's stream is cut forces a reload that reports exactly the keys that differ; registrations
 * appear, disappear on close, and come back after their lease is lost.
 */
import { describe, expect, it } from "vitest";
import type { ConfigChangeInfo } from "../../../src/client/index.ts";
import { delay, eventually, useServedNode } from "./helpers.ts";

const served = useServedNode();

interface Call {
  view: Record<string, string>;
  changed: string[];
  info: ConfigChangeInfo;
}

describe("watchConfig", () => {
  it("keeps the view of a prefix, reloading after a compaction it missed", async () => {
    const { listener, url } = await served.listen();
    const writer = served.client();
    const reader = served.client({ endpoints: [url] });
    await writer.put("cfg/a", "1");
    await writer.put("cfg/b", "2");
    await writer.put("cfgx/outside", "x");
    const calls: Call[] = [];
    const view = reader.watchConfig("cfg/", (v, changed, info) => {
      calls.push({ view: Object.fromEntries(v), changed, info });
    });
    await view.ready;
    expect(calls).toEqual([
      {
        view: { "cfg/a": "1", "cfg/b": "2" },
        changed: ["cfg/a", "cfg/b"],
        info: { revision: view.revision, cause: "initial" },
      },
    ]);

    const c = await writer.put("cfg/c", "3");
    await eventually("cfg/c seen", () => calls.length === 2);
    expect(calls[1]).toEqual({
      view: { "cfg/a": "1", "cfg/b": "2", "cfg/c": "3" },
      changed: ["cfg/c"],
      info: { revision: c.revision, cause: "watch" },
    });

    // Cut the view's stream; change things meanwhile and compact them away.
    await listener.close();
    await writer.put("cfg/a", "10");
    await writer.delete("cfg/b");
    await writer.put("cfg/d", "4");
    await writer.put("cfg/e", "5");
    await writer.delete("cfg/e"); // net: no change for cfg/e
    await writer.put("cfg/c", "3"); // same value again: no change for cfg/c
    const last = await writer.put("cfgx/outside", "y");
    await writer.compact(last.revision);
    await delay(50);
    await served.listen(listener.port);
    await eventually("the reload", () => calls.length === 3, 5_000);
    expect(calls[2]).toEqual({
      view: { "cfg/a": "10", "cfg/c": "3", "cfg/d": "4" },
      changed: ["cfg/a", "cfg/b", "cfg/d"],
      info: { revision: last.revision, cause: "reload" },
    });
    expect(view.reloads).toBe(1);

    // And it goes on watching from the reload.
    const f = await writer.put("cfg/f", "6");
    await eventually("cfg/f seen", () => calls.length === 4);
    expect(calls[3]).toMatchObject({ changed: ["cfg/f"], info: { revision: f.revision, cause: "watch" } });
    expect(Object.fromEntries(view.view)).toEqual({
      "cfg/a": "10",
      "cfg/c": "3",
      "cfg/d": "4",
      "cfg/f": "6",
    });
    view.close();
    expect(await view.done).toEqual({});
  });

  it("applies a multi-key revision (txn, prefix delete) as one change", async () => {
    const c = served.client();
    await c.put("cfg2/a", "1");
    await c.put("cfg2/b", "2");
    const calls: Call[] = [];
    const view = c.watchConfig("cfg2/", (v, changed, info) => {
      calls.push({ view: Object.fromEntries(v), changed, info });
    });
    await view.ready;
    const d = await c.deletePrefix("cfg2/");
    await eventually("the delete", () => calls.length === 2);
    expect(calls[1]).toEqual({
      view: {},
      changed: ["cfg2/a", "cfg2/b"],
      info: { revision: d.revision, cause: "watch" },
    });
    view.close();
  });

  it("goes on after a listener error, reporting it", async () => {
    const c = served.client();
    const errors: unknown[] = [];
    let calls = 0;
    const view = c.watchConfig(
      "cfg3/",
      () => {
        calls++;
        throw new Error(`bad config ${calls}`);
      },
      { onError: (e) => errors.push(e) },
    );
    await view.ready;
    await c.put("cfg3/a", "1");
    await eventually("second call", () => calls === 2);
    expect(errors.map((e) => (e as Error).message)).toEqual(["bad config 1", "bad config 2"]);
    expect(view.view.get("cfg3/a")).toBe("1");
    view.close();
  });
});

describe("register / discover", () => {
  it("registers under a lease, deregisters on close, re-registers after a lost lease", async () => {
    const d = served.client();
    const r1 = served.client();
    const r2 = served.client();
    const admin = served.client();
    const seen: Record<string, string>[] = [];
    const disc = d.discover("api", (instances) => {
      seen.push(Object.fromEntries(instances));
    });
    await disc.ready;
    expect(seen).toEqual([{}]);

    const reg1 = r1.register("api", "i1", "10.0.0.1:80", { ttl: 2 });
    const reg2 = r2.register("api", "i2", "10.0.0.2:80", { ttl: 2 });
    await Promise.all([reg1.ready, reg2.ready]);
    expect(reg1.key).toBe("services/api/i1");
    await eventually("both instances", () => disc.instances.size === 2);
    expect(Object.fromEntries(disc.instances)).toEqual({ i1: "10.0.0.1:80", i2: "10.0.0.2:80" });
    const kv = (await admin.get("services/api/i1")).kv!;
    expect(kv.lease).toBe(reg1.leaseId);

    await delay(2_500); // past the TTL: keep-alive holds them
    expect(disc.instances.size).toBe(2);

    await reg1.close();
    await eventually("i1 gone", () => !disc.instances.has("i1"), 2_000);

    const firstLease = reg2.leaseId!;
    await admin.revoke(firstLease); // the registration's lease is lost
    await eventually("i2 removed", () => seen.some((s) => !("i2" in s) && !("i1" in s)), 2_000);
    await eventually(
      "i2 back",
      () => disc.instances.get("i2") === "10.0.0.2:80" && reg2.registrations === 2,
      5_000,
    );
    expect(reg2.leaseId).not.toBe(firstLease);
    await reg2.close();
    await eventually("all gone", () => disc.instances.size === 0, 2_000);
    disc.close();
  }, 20_000);
});
