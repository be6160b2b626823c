import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectionError,
  errorFromResponse,
  FailoverClient,
  type HttpRequest,
  normalizeEndpoint,
} from "../../../src/cli/http-client.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { type Answer, closedPortUrl, errorAnswer, type LocalServer, startServer } from "./local-server.ts";

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(handler: () => Answer): Promise<LocalServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

const ok = (): Answer => ({ status: 200, json: { ok: true } });
const read: HttpRequest = { method: "GET", path: "/v1/kv/a?meta=true", kind: "read" };
const write: HttpRequest = { method: "PUT", path: "/v1/kv/a", body: Buffer.from("v"), kind: "write" };

function client(endpoints: string[], extra: { maxAttempts?: number; commandTimeoutMs?: number } = {}) {
  return new FailoverClient({
    endpoints,
    commandTimeoutMs: extra.commandTimeoutMs ?? 5_000,
    backoffMs: 1,
    ...extra,
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("failover on connection errors", () => {
  it("a read moves from a closed port to the answering endpoint", async () => {
    const closed = await closedPortUrl();
    const up = await server(ok);
    const res = await client([closed, up.url]).request(read);
    expect(res.status).toBe(200);
    expect(res.endpoint).toBe(up.url);
    expect(up.requests).toHaveLength(1);
  });

  it("a write moves on after connection refused (the request never left)", async () => {
    const closed = await closedPortUrl();
    const up = await server(ok);
    const res = await client([closed, up.url]).request(write);
    expect(res.endpoint).toBe(up.url);
    expect(up.requests[0]?.body.toString()).toBe("v");
  });

  it("a write does not move on when the connection drops after sending (it may have applied)", async () => {
    const dropping = await server(() => "destroy");
    const up = await server(ok);
    const err = await rejection(client([dropping.url, up.url]).request(write));
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).notSent).toBe(false);
    expect((err as Error).message).toMatch(/may or may not have been applied$/);
    expect(dropping.requests).toHaveLength(1);
    expect(up.requests).toHaveLength(0);
  });

  it("a read moves on when the connection drops", async () => {
    const dropping = await server(() => "destroy");
    const up = await server(ok);
    const res = await client([dropping.url, up.url]).request(read);
    expect(res.endpoint).toBe(up.url);
  });

  it("reports every endpoint when none answers", async () => {
    const a = await closedPortUrl();
    const b = await closedPortUrl();
    const err = await rejection(client([a, b]).request(read));
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain(`${a}: connection refused`);
    expect((err as Error).message).toContain(`${b}: connection refused`);
  });
});

describe("failover on retryable answers", () => {
  it("a write moves on after no_leader (refused before proposing)", async () => {
    const noLeader = await server(() => errorAnswer(503, "no_leader", "no leader"));
    const up = await server(ok);
    const res = await client([noLeader.url, up.url]).request(write);
    expect(res.endpoint).toBe(up.url);
    expect(noLeader.requests).toHaveLength(1);
  });

  it("a write stops at a timeout answer (the proposal may still apply)", async () => {
    const slow = await server(() => errorAnswer(503, "timeout", "request timed out"));
    const up = await server(ok);
    const err = await rejection(client([slow.url, up.url]).request(write));
    expect(err).toBeInstanceOf(CairnError);
    expect((err as CairnError).code).toBe("timeout");
    expect(up.requests).toHaveLength(0);
  });

  it("a read moves on after a timeout or leader_changed answer", async () => {
    const a = await server(() => errorAnswer(503, "timeout", "request timed out"));
    const b = await server(() => errorAnswer(503, "leader_changed", "leader changed"));
    const up = await server(ok);
    const res = await client([a.url, b.url, up.url]).request(read);
    expect(res.endpoint).toBe(up.url);
  });

  it("remembers the endpoint that answered for the next call", async () => {
    const noLeader = await server(() => errorAnswer(503, "no_leader", "no leader"));
    const up = await server(ok);
    const c = client([noLeader.url, up.url]);
    await c.request(read);
    await c.request(read);
    expect(noLeader.requests).toHaveLength(1);
    expect(up.requests).toHaveLength(2);
  });

  it("gives up after maxAttempts with the last server error", async () => {
    const a = await server(() => errorAnswer(503, "no_leader", "no leader"));
    const b = await server(() => errorAnswer(503, "no_leader", "no leader"));
    const err = await rejection(client([a.url, b.url], { maxAttempts: 5 }).request(read));
    expect((err as CairnError).code).toBe("no_leader");
    expect(a.requests.length + b.requests.length).toBe(5);
  });
});

describe("non-retryable answers", () => {
  it("stop at once and carry the code, message and details", async () => {
    const a = await server(() =>
      errorAnswer(410, "compacted", "required revision has been compacted", { compact_revision: 7 }),
    );
    const up = await server(ok);
    const err = await rejection(client([a.url, up.url]).request(read));
    expect(err).toBeInstanceOf(CairnError);
    expect((err as CairnError).code).toBe("compacted");
    expect((err as CairnError).message).toBe("required revision has been compacted");
    expect((err as CairnError).details?.compact_revision).toBe(7);
    expect(up.requests).toHaveLength(0);
  });

  it("accepted statuses come back as answers", async () => {
    const a = await server(() => ({ status: 503, json: { health: "false", reason: "no leader" } }));
    const res = await client([a.url]).request({ ...read, path: "/health", acceptStatuses: [503] });
    expect(res.status).toBe(503);
  });
});

describe("deadline", () => {
  it("a call that gets no answer fails with timeout at --command-timeout", async () => {
    const hanging = await server(() => "hang");
    const err = await rejection(client([hanging.url], { commandTimeoutMs: 200 }).request(read));
    expect((err as CairnError).code).toBe("timeout");
    expect((err as Error).message).toMatch(/context deadline exceeded: no answer within 200ms/);
  });
});

describe("requestOne", () => {
  it("asks only the given endpoint", async () => {
    const a = await server(() => errorAnswer(503, "no_leader", "no leader"));
    const up = await server(ok);
    const err = await rejection(client([up.url]).requestOne(a.url, read));
    expect((err as CairnError).code).toBe("no_leader");
    expect(up.requests).toHaveLength(0);
  });
});

describe("helpers", () => {
  it("normalizes endpoints like etcdctl (host:port means http)", () => {
    expect(normalizeEndpoint("127.0.0.1:2379")).toBe("http://127.0.0.1:2379");
    expect(normalizeEndpoint("https://h:1/")).toBe("https://h:1");
    expect(() => normalizeEndpoint("ftp://h:1")).toThrow(/invalid endpoint/);
  });

  it("turns a non-JSON error body into an error with the status", () => {
    const e = errorFromResponse(502, Buffer.from("Bad Gateway"), "http://x:1");
    expect(e.code).toBe("internal");
    expect(e.message).toBe("HTTP 502 from http://x:1: Bad Gateway");
  });
});
