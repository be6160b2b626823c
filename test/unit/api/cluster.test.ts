/** /health, /version, /v1/status, /v1/cluster/members, and retryable errors once the node stops. */
import { describe, expect, it } from "vitest";
import { b64, json, post, put, useApi } from "./helpers.ts";

const api = useApi();

describe("cluster routes", () => {
  it("GET /health answers etcd's shape", async () => {
    // startSingleNode resolves when Raft reports leadership; the node learns its leader (soft
    // state) on its next ready cycle, and /health is false until then. Bounded wait: 2 s.
    let res = await api.app.request("/health");
    for (let i = 0; i < 100 && res.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 20));
      res = await api.app.request("/health");
    }
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ health: "true" });
  });

  it("GET /version answers etcd's fields and Cairn's version", async () => {
    expect(await json(await api.app.request("/version"))).toEqual({
      etcdserver: "3.4.0",
      etcdcluster: "3.4.0",
      cairn: "9.9.9-test",
    });
  });

  it("GET /v1/status reports the node in snake_case", async () => {
    await put(api.app, "status/k", "v");
    const s = await json(await api.app.request("/v1/status"));
    expect(Object.keys(s).sort()).toEqual(
      [
        "cluster_id",
        "member_id",
        "name",
        "version",
        "leader",
        "is_leader",
        "is_learner",
        "raft_term",
        "raft_index",
        "commit_index",
        "applied_index",
        "revision",
        "compact_revision",
        "history_entries",
        "history_bytes",
        "keys",
        "leases",
        "db_size",
        "errors",
      ].sort(),
    );
    expect(s).toMatchObject({
      cluster_id: "cdf818194e3a8c32",
      member_id: "8e9e05c52164694d",
      name: "default",
      leader: "8e9e05c52164694d",
      is_leader: true,
      is_learner: false,
      compact_revision: 0,
      errors: [],
    });
    expect(s.revision).toBeGreaterThanOrEqual(2);
    expect(s.raft_term).toBeGreaterThanOrEqual(1);
    expect(s.applied_index).toBeGreaterThanOrEqual(s.revision - 1);
    expect(s.commit_index).toBeGreaterThanOrEqual(s.applied_index);
    expect(s.raft_index).toBeGreaterThanOrEqual(s.commit_index);
    expect(typeof s.db_size).toBe("number");
  });

  it("GET /v1/cluster/members lists the member, marked started", async () => {
    expect(await json(await api.app.request("/v1/cluster/members"))).toEqual({
      cluster_id: "cdf818194e3a8c32",
      members: [
        {
          id: "8e9e05c52164694d",
          name: "default",
          peer_urls: ["https://127.0.0.1:2380"],
          client_urls: ["http://127.0.0.1:2379"],
          is_learner: false,
          started: true,
        },
      ],
    });
  });
});

describe("after the node stops", () => {
  it("answers 503 with Retry-After on /v1 and /v3, and /health 503 with a reason", async () => {
    const { app, kv } = api;
    await (kv as unknown as { stop(): Promise<void> }).stop();

    const v1 = await put(app, "after/stop", "x");
    expect(v1.status).toBe(503);
    expect(v1.headers.get("retry-after")).toBe("1");
    expect((await json(v1)).error.code).toBe("stopped");

    const v3 = await post(app, "/v3/kv/put", { key: b64("after/stop"), value: b64("x") });
    expect(v3.status).toBe(503);
    expect(v3.headers.get("retry-after")).toBe("1");
    expect(await json(v3)).toEqual({
      error: "etcdserver: server stopped",
      code: 14,
      message: "etcdserver: server stopped",
    });

    const health = await app.request("/health");
    expect(health.status).toBe(503);
    const body = await json(health);
    expect(body.health).toBe("false");
    expect(typeof body.reason).toBe("string");
  });
});
