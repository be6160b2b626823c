import { describe, expect, it } from "vitest";
import type { KvJson, StatusJson } from "../../../src/cli/api-schemas.ts";
import {
  ENDPOINT_STATUS_HEADERS,
  endpointHealthJson,
  endpointStatusRows,
  formatBytesSI,
  formatCommaRows,
  formatDeleteSimple,
  formatDurationGo,
  formatEndpointHealthSimple,
  formatGetSimple,
  formatPutSimple,
  formatTable,
  formatTxnSimple,
  MEMBER_LIST_HEADERS,
  memberListRows,
} from "../../../src/cli/format.ts";

const kv = (key: string, value: string | undefined, extra: Partial<KvJson> = {}): KvJson => ({
  key,
  ...(value !== undefined ? { value } : {}),
  create_revision: 2,
  mod_revision: 3,
  version: 1,
  lease: 0,
  ...extra,
});

const status = (memberId: string, isLeader: boolean, dbSize: number, errors: string[] = []): StatusJson => ({
  cluster_id: "cdf818194e3a8c32",
  member_id: memberId,
  name: "n",
  version: "0.1.0",
  leader: "8e9e05c52164694d",
  is_leader: isLeader,
  is_learner: false,
  raft_term: 2,
  raft_index: 8,
  commit_index: 8,
  applied_index: 8,
  revision: 5,
  compact_revision: 0,
  db_size: dbSize,
  errors,
});

describe("kv simple output (etcdctl printKV)", () => {
  it("get prints key line then value line, raw bytes for base64 values", () => {
    const out = formatGetSimple({
      revision: 9,
      kvs: [
        kv("a", "1"),
        kv("b", Buffer.from([0xff, 0x00, 0x41]).toString("base64"), { value_encoding: "base64" }),
      ],
    });
    expect(
      out.equals(
        Buffer.concat([Buffer.from("a\n1\nb\n"), Buffer.from([0xff, 0x00, 0x41]), Buffer.from("\n")]),
      ),
    ).toBe(true);
  });

  it("--print-value-only drops the key line; keys-only answers print an empty value line", () => {
    expect(formatGetSimple({ kvs: [kv("a", "1")] }, true).toString()).toBe("1\n");
    expect(formatGetSimple({ kvs: [kv("a", undefined), kv("b", undefined)] }).toString()).toBe("a\n\nb\n\n");
  });

  it("put prints OK, then the previous KV", () => {
    expect(formatPutSimple({ revision: 4 }).toString()).toBe("OK\n");
    expect(formatPutSimple({ revision: 4, prev_kv: kv("a", "old") }).toString()).toBe("OK\na\nold\n");
  });

  it("del prints the count, then the previous KVs", () => {
    expect(formatDeleteSimple({ revision: 4, deleted: 2 }).toString()).toBe("2\n");
    expect(formatDeleteSimple({ revision: 4, deleted: 1, prev_kvs: [kv("a", "1")] }).toString()).toBe(
      "1\na\n1\n",
    );
  });

  it("txn prints SUCCESS/FAILURE then each response after an empty line", () => {
    const out = formatTxnSimple({
      revision: 7,
      succeeded: true,
      responses: [
        { put: { revision: 7 } },
        { get: { kvs: [kv("k", "v")], more: false, count: 1 } },
        { delete: { deleted: 3 } },
      ],
    });
    expect(out.toString()).toBe("SUCCESS\n\nOK\n\nk\nv\n\n3\n");
    expect(formatTxnSimple({ revision: 7, succeeded: false, responses: [] }).toString()).toBe("FAILURE\n");
  });
});

describe("member list", () => {
  const members = [
    {
      id: "8e9e05c52164694d",
      name: "n1",
      peer_urls: ["https://127.0.0.1:2380"],
      client_urls: ["http://127.0.0.1:2379", "http://10.0.0.1:2379"],
      is_learner: false,
    },
    {
      id: "91bc3c398fb3c146",
      name: "",
      peer_urls: ["https://127.0.0.1:2381"],
      client_urls: [],
      is_learner: true,
    },
  ];

  it("simple: one comma line per member, unnamed members are unstarted", () => {
    expect(formatCommaRows(memberListRows(members))).toBe(
      "8e9e05c52164694d, started, n1, https://127.0.0.1:2380, http://127.0.0.1:2379,http://10.0.0.1:2379, false\n" +
        "91bc3c398fb3c146, unstarted, , https://127.0.0.1:2381, , true\n",
    );
  });

  it("table: etcdctl's headers", () => {
    const table = formatTable(MEMBER_LIST_HEADERS, memberListRows(members));
    const lines = table.trimEnd().split("\n");
    expect(lines[1]).toMatch(
      /^\|\s+ID\s+\|\s+STATUS\s+\|\s+NAME\s+\|\s+PEER ADDRS\s+\|\s+CLIENT ADDRS\s+\|\s+IS LEARNER\s+\|$/,
    );
    expect(lines).toHaveLength(6);
    expect(lines[3]).toContain("| 8e9e05c52164694d |");
  });
});

describe("endpoint status table", () => {
  it("has etcdctl's columns and right-aligned cells", () => {
    const rows = endpointStatusRows([
      { endpoint: "http://127.0.0.1:2379", status: status("8e9e05c52164694d", true, 20_480) },
      {
        endpoint: "http://127.0.0.1:22379",
        status: status("91bc3c398fb3c146", false, 1_600_000, ["no leader", "x"]),
      },
    ]);
    expect(formatTable(ENDPOINT_STATUS_HEADERS, rows)).toBe(
      [
        "+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------+",
        "|        ENDPOINT        |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX |    ERRORS    |",
        "+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------+",
        "|  http://127.0.0.1:2379 | 8e9e05c52164694d |   0.1.0 |   20 kB |      true |      false |         2 |          8 |                  8 |              |",
        "| http://127.0.0.1:22379 | 91bc3c398fb3c146 |   0.1.0 |  1.6 MB |     false |      false |         2 |          8 |                  8 | no leader, x |",
        "+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------+",
        "",
      ].join("\n"),
    );
  });
});

describe("endpoint health", () => {
  const list = [
    { endpoint: "http://127.0.0.1:2379", health: true, tookMs: 2.1, error: "" },
    { endpoint: "http://127.0.0.1:22379", health: false, tookMs: 5000, error: "no leader" },
  ];

  it("simple: healthy lines on stdout, unhealthy lines on stderr", () => {
    expect(formatEndpointHealthSimple(list)).toEqual({
      stdout: "http://127.0.0.1:2379 is healthy: successfully committed proposal: took = 2.1ms\n",
      stderr: "http://127.0.0.1:22379 is unhealthy: failed to commit proposal: no leader\n",
    });
  });

  it("json: endpoint, health, took, error", () => {
    expect(endpointHealthJson(list)).toEqual([
      { endpoint: "http://127.0.0.1:2379", health: true, took: "2.1ms" },
      { endpoint: "http://127.0.0.1:22379", health: false, took: "5s", error: "no leader" },
    ]);
  });
});

describe("units", () => {
  it("DB size in SI units as go-humanize", () => {
    expect(formatBytesSI(0)).toBe("0 B");
    expect(formatBytesSI(9)).toBe("9 B");
    expect(formatBytesSI(999)).toBe("999 B");
    expect(formatBytesSI(1_500)).toBe("1.5 kB");
    expect(formatBytesSI(20_480)).toBe("20 kB");
    expect(formatBytesSI(20_500)).toBe("20 kB");
    expect(formatBytesSI(21_500)).toBe("22 kB");
    expect(formatBytesSI(1_600_000)).toBe("1.6 MB");
  });

  it("durations as Go's time.Duration.String", () => {
    expect(formatDurationGo(0)).toBe("0s");
    expect(formatDurationGo(0.00085)).toBe("850ns");
    expect(formatDurationGo(0.0125)).toBe("12.5µs");
    expect(formatDurationGo(2.1)).toBe("2.1ms");
    expect(formatDurationGo(2.123456)).toBe("2.123456ms");
    expect(formatDurationGo(1_500)).toBe("1.5s");
    expect(formatDurationGo(62_500)).toBe("1m2.5s");
    expect(formatDurationGo(3_723_000)).toBe("1h2m3s");
  });
});
