import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { memoryIo } from "../../../src/cli/io.ts";
import { runCli } from "../../../src/cli/program.ts";
import {
  type Answer,
  closedPortUrl,
  errorAnswer,
  type LocalServer,
  type SeenRequest,
  startServer,
} from "./local-server.ts";

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cairn-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function server(handler: (req: SeenRequest) => Answer): Promise<LocalServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

const kv = (key: string, value: string) => ({
  key,
  value,
  create_revision: 2,
  mod_revision: 3,
  version: 1,
  lease: 0,
});

/** Runs the CLI in-process against `endpoints`. */
async function cli(
  args: string[],
  opts: { endpoints?: string; stdin?: string; env?: Record<string, string> } = {},
) {
  const io = memoryIo(opts.stdin ?? "", opts.env ?? {});
  const argv = opts.endpoints !== undefined ? ["--endpoints", opts.endpoints, ...args] : args;
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err(), bytes: io.outBytes() };
}

describe("put", () => {
  it("sends the value as the body, with no content type, and prints OK", async () => {
    const s = await server(() => ({ status: 200, json: { revision: 4 } }));
    const r = await cli(["put", "greeting", "hello"], { endpoints: s.url });
    expect(r).toMatchObject({ code: 0, out: "OK\n", err: "" });
    const req = s.requests[0]!;
    expect(req.method).toBe("PUT");
    expect(req.url).toBe("/v1/kv/greeting");
    expect(req.body.toString()).toBe("hello");
    expect(req.headers["content-type"]).toBeUndefined();
  });

  it("reads the value from stdin when absent and passes lease (hex → decimal), prev_kv, content type", async () => {
    const s = await server(() => ({ status: 200, json: { revision: 4, prev_kv: kv("/app/config", "{}") } }));
    const r = await cli(
      [
        "put",
        "/app/config",
        "--lease",
        "694d5765fc71500b",
        "--prev-kv",
        "--content-type",
        "application/json",
      ],
      { endpoints: s.url, stdin: '{"a":1}\n' },
    );
    expect(r).toMatchObject({ code: 0, out: "OK\n/app/config\n{}\n" });
    const req = s.requests[0]!;
    expect(req.url).toBe(`/v1/kv//app/config?lease=${BigInt("0x694d5765fc71500b")}&prev_kv=true`);
    expect(req.body.toString()).toBe('{"a":1}\n');
    expect(req.headers["content-type"]).toBe("application/json");
  });

  it("percent-encodes keys and sends keys with dot segments through /v1/txn", async () => {
    const s = await server((req) =>
      req.url === "/v1/txn"
        ? { status: 200, json: { revision: 5, succeeded: true, responses: [{ put: { revision: 5 } }] } }
        : { status: 200, json: { revision: 5 } },
    );
    expect((await cli(["put", "a b?#%/ü", "v"], { endpoints: s.url })).code).toBe(0);
    expect(s.requests[0]?.url).toBe("/v1/kv/a%20b%3F%23%25/%C3%BC");
    expect((await cli(["put", "a/../b", "v"], { endpoints: s.url })).out).toBe("OK\n");
    const txn = s.requests[1]!;
    expect(txn.method).toBe("POST");
    expect(JSON.parse(txn.body.toString())).toEqual({
      compare: [],
      success: [{ put: { key: "a/../b", value: "v" } }],
      failure: [],
    });
  });

  it("prints the API's JSON with -w json", async () => {
    const s = await server(() => ({ status: 200, json: { revision: 4 } }));
    expect((await cli(["-w", "json", "put", "k", "v"], { endpoints: s.url })).out).toBe('{"revision":4}\n');
  });
});

describe("get", () => {
  it("reads one key with meta=true and prints key and value", async () => {
    const s = await server(() => ({ status: 200, json: { revision: 9, kv: kv("k", "v") } }));
    const r = await cli(["get", "k"], { endpoints: s.url });
    expect(r).toMatchObject({ code: 0, out: "k\nv\n" });
    expect(s.requests[0]?.url).toBe("/v1/kv/k?meta=true");
  });

  it("prints nothing and exits 0 for a missing key, as etcdctl", async () => {
    const s = await server(() => errorAnswer(404, "key_not_found", "key not found"));
    expect(await cli(["get", "nope"], { endpoints: s.url })).toMatchObject({ code: 0, out: "", err: "" });
  });

  it("passes range flags and prints JSON", async () => {
    const answer = { revision: 9, kvs: [kv("p/a", "1"), kv("p/b", "2")], more: true, count: 3 };
    const s = await server(() => ({ status: 200, json: answer }));
    const r = await cli(
      ["get", "p/", "--prefix", "--limit", "2", "--rev", "8", "--consistency", "s", "-w", "json"],
      {
        endpoints: s.url,
      },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(answer);
    expect(s.requests[0]?.url).toBe("/v1/kv/p/?prefix=true&limit=2&rev=8&consistency=serializable");
  });

  it("--print-value-only and --keys-only", async () => {
    const s = await server((req) =>
      req.url.includes("keys_only")
        ? {
            status: 200,
            json: { revision: 9, kvs: [{ ...kv("a", ""), value: undefined }], more: false, count: 1 },
          }
        : { status: 200, json: { revision: 9, kv: kv("a", "1") } },
    );
    expect((await cli(["get", "a", "--print-value-only"], { endpoints: s.url })).out).toBe("1\n");
    expect((await cli(["get", "", "--prefix", "--keys-only"], { endpoints: s.url })).out).toBe("a\n\n");
    expect(s.requests[1]?.url).toBe("/v1/kv/?prefix=true&keys_only=true");
  });

  it("a server error exits 1 with its message", async () => {
    const s = await server(() => errorAnswer(410, "compacted", "required revision has been compacted"));
    expect(await cli(["get", "k", "--rev", "1"], { endpoints: s.url })).toMatchObject({
      code: 1,
      out: "",
      err: "Error: required revision has been compacted\n",
    });
  });
});

describe("del and txn", () => {
  it("del prints the count and sends prefix and prev_kv", async () => {
    const s = await server(() => ({
      status: 200,
      json: { revision: 6, deleted: 1, prev_kvs: [kv("p/a", "1")] },
    }));
    const r = await cli(["del", "p/", "--prefix", "--prev-kv"], { endpoints: s.url });
    expect(r).toMatchObject({ code: 0, out: "1\np/a\n1\n" });
    expect(s.requests[0]).toMatchObject({ method: "DELETE", url: "/v1/kv/p/?prefix=true&prev_kv=true" });
  });

  it("txn sends the JSON request from a file or stdin as is", async () => {
    const request = {
      compare: [{ key: "k", target: "version", result: "=", version: 0 }],
      success: [{ put: { key: "k", value: "v" } }],
      failure: [{ get: { key: "k" } }],
    };
    const file = join(dir, "txn.json");
    writeFileSync(file, JSON.stringify(request));
    const s = await server(() => ({
      status: 200,
      json: {
        revision: 7,
        succeeded: false,
        responses: [{ get: { kvs: [kv("k", "old")], more: false, count: 1 } }],
      },
    }));
    const fromFile = await cli(["txn", file], { endpoints: s.url });
    expect(fromFile).toMatchObject({ code: 0, out: "FAILURE\n\nk\nold\n" });
    expect(JSON.parse(s.requests[0]!.body.toString())).toEqual(request);
    const fromStdin = await cli(["txn"], { endpoints: s.url, stdin: JSON.stringify(request) });
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(s.requests[1]!.body.toString())).toEqual(request);
  });

  it("txn rejects a request that is not JSON as a usage error", async () => {
    const s = await server(() => ({ status: 200, json: {} }));
    const r = await cli(["txn"], { endpoints: s.url, stdin: "{compare" });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^Error: txn request from stdin is not valid JSON/);
    expect(s.requests).toHaveLength(0);
  });
});

const statusOf = (memberId: string, isLeader: boolean) => ({
  cluster_id: "cdf818194e3a8c32",
  member_id: memberId,
  name: "n",
  version: "0.1.0",
  leader: "1111111111111111",
  is_leader: isLeader,
  is_learner: false,
  raft_term: 2,
  raft_index: 8,
  commit_index: 8,
  applied_index: 8,
  revision: 5,
  compact_revision: 0,
  db_size: 20_480,
  errors: [],
});

describe("member list and endpoint commands", () => {
  it("member list simple", async () => {
    const s = await server(() => ({
      status: 200,
      json: {
        cluster_id: "cdf818194e3a8c32",
        members: [
          {
            id: "1111111111111111",
            name: "n1",
            peer_urls: ["https://a:2380"],
            client_urls: ["http://a:2379"],
            is_learner: false,
          },
        ],
      },
    }));
    expect((await cli(["member", "list"], { endpoints: s.url })).out).toBe(
      "1111111111111111, started, n1, https://a:2380, http://a:2379, false\n",
    );
  });

  it("endpoint status asks every endpoint; a failed one is reported and exits 1", async () => {
    const up = await server(() => ({ status: 200, json: statusOf("1111111111111111", true) }));
    const closed = await closedPortUrl();
    const r = await cli(["endpoint", "status", "-w", "table"], { endpoints: `${up.url},${closed}` });
    expect(r.code).toBe(1);
    expect(r.out).toContain("RAFT APPLIED INDEX");
    expect(r.out).toContain(`| ${up.url} | 1111111111111111 |`);
    expect(r.out).not.toContain(closed);
    expect(r.err).toBe(`Failed to get the status of endpoint ${closed} (connection refused)\n`);
  });

  it("endpoint status --cluster uses the client URLs from member list", async () => {
    const second = await server(() => ({ status: 200, json: statusOf("2222222222222222", false) }));
    const first = await server((req) =>
      req.url === "/v1/cluster/members"
        ? {
            status: 200,
            json: {
              cluster_id: "c",
              members: [
                {
                  id: "1",
                  name: "a",
                  peer_urls: [],
                  client_urls: [`http://127.0.0.1:${new URL(second.url).port}`],
                  is_learner: false,
                },
                { id: "2", name: "", peer_urls: [], client_urls: [], is_learner: false },
              ],
            },
          }
        : { status: 200, json: statusOf("1111111111111111", true) },
    );
    const r = await cli(["endpoint", "status", "--cluster"], { endpoints: first.url });
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${second.url}, 2222222222222222, 0.1.0, 20 kB, false, false, 2, 8, 8, \n`);
  });

  it("endpoint health: healthy on stdout, unhealthy on stderr, exit 1 for an unhealthy cluster", async () => {
    const healthy = await server(() => ({ status: 200, json: { health: "true" } }));
    const sick = await server(() => ({ status: 503, json: { health: "false", reason: "no leader" } }));
    const r = await cli(["endpoint", "health"], { endpoints: `${healthy.url},${sick.url}` });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      new RegExp(
        `^${healthy.url} is healthy: successfully committed proposal: took = [0-9.]+(ns|µs|ms|s)\\n$`,
      ),
    );
    expect(r.err).toBe(
      `${sick.url} is unhealthy: failed to commit proposal: no leader\nError: unhealthy cluster\n`,
    );
    const ok = await cli(["endpoint", "health", "-w", "json"], { endpoints: healthy.url });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toEqual([{ endpoint: healthy.url, health: true, took: expect.any(String) }]);
  });
});

describe("global flags and exit codes", () => {
  it("uses CAIRN_ENDPOINTS, and --endpoints wins over it", async () => {
    const s = await server(() => ({ status: 200, json: { revision: 1 } }));
    expect((await cli(["put", "k", "v"], { env: { CAIRN_ENDPOINTS: s.url } })).code).toBe(0);
    const closed = await closedPortUrl();
    const r = await cli(["put", "k", "v"], { endpoints: s.url, env: { CAIRN_ENDPOINTS: closed } });
    expect(r.code).toBe(0);
    expect(s.requests).toHaveLength(2);
  });

  it("fails over between endpoints (closed port first)", async () => {
    const closed = await closedPortUrl();
    const s = await server(() => ({ status: 200, json: { revision: 9, kv: kv("k", "v") } }));
    expect(await cli(["get", "k"], { endpoints: `${closed},${s.url}` })).toMatchObject({
      code: 0,
      out: "k\nv\n",
    });
  });

  it("an unreachable cluster exits 1 with Error:", async () => {
    const closed = await closedPortUrl();
    const r = await cli(["get", "k"], { endpoints: closed });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^Error: all endpoints failed .*connection refused\n$/);
  });

  it("usage errors exit 2", async () => {
    const missingKey = await cli(["get"]);
    expect(missingKey.code).toBe(2);
    expect(missingKey.err).toBe("Error: missing required argument 'key'\n");
    expect((await cli(["get", "k", "--bogus"])).code).toBe(2);
    expect((await cli(["nosuchcommand"])).code).toBe(2);
    expect(await cli(["get", ""])).toMatchObject({ code: 2, err: "Error: key must not be empty\n" });
    expect(await cli(["get", "k", "-w", "table"])).toMatchObject({
      code: 2,
      err: "Error: --write-out: get supports simple, json, not table\n",
    });
    expect((await cli(["--command-timeout", "abc", "get", "k"])).err).toMatch(/^Error: --command-timeout: /);
    expect((await cli(["put", "k", "v", "--lease", "xyz"])).code).toBe(2);
    expect((await cli(["get", "k", "--consistency", "q"])).code).toBe(2);
    expect((await cli(["-w", "yaml", "get", "k"])).code).toBe(2);
  });

  it("help and version exit 0", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("endpoint");
    expect((await cli(["--version"])).out).toMatch(/^\d+\.\d+\.\d+/);
  });
});
