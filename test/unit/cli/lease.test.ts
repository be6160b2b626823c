/**
 * `cairn lease grant|revoke|keep-alive|timetolive|list` and `cairn compaction`: the requests they
 * send and etcdctl's output (against a recording server), then the same verbs against the real
 * API over a real single-member node, including the streaming keep-alive across more than the
 * lease's TTL.
 */
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import { memoryIo } from "../../../src/cli/io.ts";
import { runCli } from "../../../src/cli/program.ts";
import { startSingleNode } from "../../helpers/single-node.ts";
import { type Answer, errorAnswer, type LocalServer, type SeenRequest, startServer } from "./local-server.ts";

const recorders: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(recorders.splice(0).map((s) => s.close()));
});

async function recorder(handler: (req: SeenRequest) => Answer): Promise<LocalServer> {
  const s = await startServer(handler);
  recorders.push(s);
  return s;
}

async function cli(endpoint: string, args: string[], signal?: AbortSignal) {
  const io = memoryIo("", {}, signal);
  const code = await runCli(["--endpoints", endpoint, ...args], io);
  return { code, out: io.out(), err: io.err() };
}

describe("lease verbs (requests and etcdctl output)", () => {
  it("lease grant posts the TTL and prints the id in hex", async () => {
    const s = await recorder(() => ({ status: 201, json: { id: 0x694d5765fc715, ttl: 60 } }));
    expect(await cli(s.url, ["lease", "grant", "60"])).toEqual({
      code: 0,
      out: "lease 000694d5765fc715 granted with TTL(60s)\n",
      err: "",
    });
    expect(s.requests[0]).toMatchObject({ method: "POST", url: "/v1/leases" });
    expect(JSON.parse(s.requests[0]!.body.toString())).toEqual({ ttl: 60 });
    expect((await cli(s.url, ["-w", "json", "lease", "grant", "60"])).out).toBe(
      `{"id":${0x694d5765fc715},"ttl":60}\n`,
    );
    expect(await cli(s.url, ["lease", "grant", "abc"])).toMatchObject({ code: 2 });
  });

  it("lease revoke sends DELETE with the decimal id", async () => {
    const s = await recorder(() => ({ status: 200, json: { revision: 9 } }));
    expect((await cli(s.url, ["lease", "revoke", "694d5765fc715"])).out).toBe(
      "lease 000694d5765fc715 revoked\n",
    );
    expect(s.requests[0]).toMatchObject({ method: "DELETE", url: `/v1/leases/${0x694d5765fc715}` });
    expect(await cli(s.url, ["lease", "revoke", "xyz"])).toMatchObject({
      code: 2,
      err: "Error: bad lease ID arg 'xyz', expecting ID in Hex (as 'lease grant' prints it)\n",
    });
    expect((await cli(s.url, ["lease", "revoke", "ffffffffffffffff"])).code).toBe(2); // past 2^53
  });

  it("lease revoke of an unknown lease fails with etcd's message", async () => {
    const s = await recorder(() =>
      errorAnswer(404, "lease_not_found", "etcdserver: requested lease not found"),
    );
    expect(await cli(s.url, ["lease", "revoke", "1"])).toEqual({
      code: 1,
      out: "",
      err: "Error: etcdserver: requested lease not found\n",
    });
  });

  it("lease timetolive prints granted and remaining TTL, keys with --keys, 'already expired' when gone", async () => {
    const s = await recorder((req) =>
      req.url.startsWith("/v1/leases/16")
        ? { status: 200, json: { id: 16, ttl: 7, granted_ttl: 10, keys: ["a", "b"] } }
        : errorAnswer(404, "lease_not_found", "etcdserver: requested lease not found"),
    );
    expect((await cli(s.url, ["lease", "timetolive", "10", "--keys"])).out).toBe(
      "lease 0000000000000010 granted with TTL(10s), remaining(7s), attached keys([a b])\n",
    );
    expect(s.requests[0]!.url).toBe("/v1/leases/16?keys=true");
    expect((await cli(s.url, ["lease", "timetolive", "10"])).out).toBe(
      "lease 0000000000000010 granted with TTL(10s), remaining(7s)\n",
    );
    expect(await cli(s.url, ["lease", "timetolive", "11"])).toEqual({
      code: 0,
      out: "lease 0000000000000011 already expired\n",
      err: "",
    });
  });

  it("lease list prints the count and the ids", async () => {
    const s = await recorder(() => ({
      status: 200,
      json: {
        revision: 3,
        leases: [
          { id: 1, granted_ttl: 5 },
          { id: 0x390da21c3c542, granted_ttl: 9 },
        ],
      },
    }));
    expect((await cli(s.url, ["lease", "list"])).out).toBe(
      "found 2 leases\n0000000000000001\n000390da21c3c542\n",
    );
  });

  it("lease keep-alive --once renews once", async () => {
    const s = await recorder(() => ({ status: 200, json: { id: 255, ttl: 30 } }));
    expect((await cli(s.url, ["lease", "keep-alive", "--once", "ff"])).out).toBe(
      "lease 00000000000000ff keepalived with TTL(30)\n",
    );
    expect(s.requests[0]).toMatchObject({ method: "POST", url: "/v1/leases/255/keepalive" });
  });

  it("compaction posts the revision and prints etcdctl's line; errors carry etcd's messages", async () => {
    const s = await recorder((req) =>
      JSON.parse(req.body.toString()).revision === 5
        ? { status: 200, json: { revision: 9, compact_revision: 5 } }
        : errorAnswer(410, "compacted", "mvcc: required revision has been compacted", {
            compact_revision: 5,
          }),
    );
    expect((await cli(s.url, ["compaction", "5"])).out).toBe("compacted revision 5\n");
    expect(s.requests[0]).toMatchObject({ method: "POST", url: "/v1/compaction" });
    expect(await cli(s.url, ["compaction", "4"])).toEqual({
      code: 1,
      out: "",
      err: "Error: etcdserver: mvcc: required revision has been compacted\n",
    });
    expect((await cli(s.url, ["compaction", "x"])).code).toBe(2);
  });
});

describe("lease verbs on a real node", () => {
  let node: Awaited<ReturnType<typeof startSingleNode>>;
  let server: ServerType;
  let endpoint = "";

  beforeAll(async () => {
    node = await startSingleNode();
    const app = createApp({ kv: node.kv, cluster: node.node, maxRequestBytes: 64 * 1024, version: "test" });
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) =>
        resolve(info.port),
      );
    });
    endpoint = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await node.stop();
  });

  it("grant, put --lease, timetolive --keys, list, revoke", async () => {
    const granted = await cli(endpoint, ["lease", "grant", "60"]);
    const m = /^lease ([0-9a-f]{16}) granted with TTL\(60s\)\n$/.exec(granted.out);
    expect(m, granted.out + granted.err).not.toBeNull();
    const id = m![1]!;
    expect((await cli(endpoint, ["put", "--lease", id, "svc/a", "1"])).out).toBe("OK\n");
    expect((await cli(endpoint, ["lease", "timetolive", id, "--keys"])).out).toMatch(
      new RegExp(
        `^lease ${id} granted with TTL\\(60s\\), remaining\\((59|60)s\\), attached keys\\(\\[svc/a\\]\\)\\n$`,
      ),
    );
    expect((await cli(endpoint, ["lease", "list"])).out).toContain(`${id}\n`);
    expect((await cli(endpoint, ["lease", "revoke", id])).out).toBe(`lease ${id} revoked\n`);
    expect((await cli(endpoint, ["get", "svc/a"])).out).toBe("");
    expect((await cli(endpoint, ["lease", "timetolive", id])).out).toBe(`lease ${id} already expired\n`);
  });

  it("streaming keep-alive keeps a 2 s lease alive for 3.5 s, then ends when it is revoked", async () => {
    const id = (await cli(endpoint, ["lease", "grant", "2"])).out.split(" ")[1]!;
    await cli(endpoint, ["put", "--lease", id, "kept", "yes"]);
    const stop = new AbortController();
    const running = cli(endpoint, ["lease", "keep-alive", id], stop.signal);
    await new Promise((r) => setTimeout(r, 3_500));
    expect((await cli(endpoint, ["get", "kept"])).out).toBe("kept\nyes\n");
    await cli(endpoint, ["lease", "revoke", id]);
    const r = await running;
    stop.abort();
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    // A ping every TTL/3: several renewals, then etcdctl's last line.
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.slice(0, -1).every((l) => l === `lease ${id} keepalived with TTL(2)`)).toBe(true);
    expect(lines.at(-1)).toBe(`lease ${id} expired or revoked.`);
  });

  it("keep-alive stops when interrupted", async () => {
    const id = (await cli(endpoint, ["lease", "grant", "30"])).out.split(" ")[1]!;
    const stop = new AbortController();
    const running = cli(endpoint, ["lease", "keep-alive", id], stop.signal);
    await new Promise((r) => setTimeout(r, 300));
    stop.abort();
    const r = await running;
    expect(r.code).toBe(0);
    expect(r.out).toBe(`lease ${id} keepalived with TTL(30)\n`);
  });

  it("compaction on the real API", async () => {
    await cli(endpoint, ["put", "c", "1"]);
    await cli(endpoint, ["put", "c", "2"]);
    const rev = Number(JSON.parse((await cli(endpoint, ["-w", "json", "put", "c", "3"])).out).revision);
    expect((await cli(endpoint, ["compaction", String(rev - 1)])).out).toBe(
      `compacted revision ${rev - 1}\n`,
    );
    expect((await cli(endpoint, ["compaction", String(rev + 10)])).err).toBe(
      "Error: etcdserver: mvcc: required revision is a future revision\n",
    );
  });
});
