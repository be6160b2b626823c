import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConfigError,
  envVarFor,
  formatServeFlagsMarkdown,
  formatServeHelp,
  isServeHelpRequest,
  parseServeConfig,
  SERVE_FLAGS,
} from "../../../src/server/config.ts";
import { clusterIdFor, memberIdFor } from "../../../src/server/ids.ts";

let dir = "";
let tls: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cairn-config-"));
  for (const f of ["cert.pem", "key.pem", "ca.pem"]) writeFileSync(join(dir, f), "-----BEGIN X-----\n");
  mkdirSync(join(dir, "a-dir"));
  tls = [
    `--peer-cert-file=${join(dir, "cert.pem")}`,
    `--peer-key-file=${join(dir, "key.pem")}`,
    `--peer-trusted-ca-file=${join(dir, "ca.pem")}`,
  ];
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const parse = (argv: string[], env: Record<string, string | undefined> = {}) =>
  parseServeConfig([...tls, ...argv], env);

/** Runs `fn`, expects a ConfigError and returns its message. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  it("match etcd's defaults with Cairn's names", () => {
    const c = parse([]);
    expect(c.name).toBe("default");
    expect(c.dataDir).toBe("default.cairn");
    expect(c.listenClientUrls).toEqual(["http://localhost:2379"]);
    expect(c.advertiseClientUrls).toEqual(["http://localhost:2379"]);
    expect(c.listenPeerUrls).toEqual(["https://localhost:2380"]);
    expect(c.initialAdvertisePeerUrls).toEqual(["https://localhost:2380"]);
    expect(c.initialCluster).toEqual([{ name: "default", peerUrls: ["https://localhost:2380"] }]);
    expect(c.initialClusterState).toBe("new");
    expect(c.initialClusterToken).toBe("cairn-cluster");
    expect(c.heartbeatIntervalMs).toBe(100);
    expect(c.electionTimeoutMs).toBe(1000);
    expect(c.snapshotCount).toBe(100_000);
    expect(c.maxRequestBytes).toBe(1.5 * 1024 * 1024);
    expect(c.logLevel).toBe("info");
    expect(c.warnings).toEqual([]);
  });

  it("derives the data dir and initial cluster from --name", () => {
    const c = parse(["--name", "infra0"]);
    expect(c.dataDir).toBe("infra0.cairn");
    expect(c.initialCluster).toEqual([{ name: "infra0", peerUrls: ["https://localhost:2380"] }]);
  });

  it("derives member and cluster ids as etcd does", () => {
    const c = parse([]);
    const id = memberIdFor(["https://localhost:2380"], "cairn-cluster");
    expect(c.memberId).toBe(id);
    expect(c.members).toEqual([{ id, name: "default", peerUrls: ["https://localhost:2380"] }]);
    expect(c.clusterId).toBe(clusterIdFor([id]));
  });
});

describe("three-member cluster", () => {
  const cluster =
    "n1=https://10.0.0.1:2380,n2=https://10.0.0.2:2380,n3=https://10.0.0.3:2380,n3=https://10.0.0.33:2380";
  it("groups URLs by name and gives every member its id", () => {
    const c = parse([
      "--name=n3",
      "--initial-advertise-peer-urls=https://10.0.0.33:2380,https://10.0.0.3:2380",
      "--listen-peer-urls=https://0.0.0.0:2380",
      `--initial-cluster=${cluster}`,
      "--initial-cluster-token=tok",
    ]);
    expect(c.initialCluster.map((m) => m.name)).toEqual(["n1", "n2", "n3"]);
    expect(c.members[2]?.peerUrls).toEqual(["https://10.0.0.3:2380", "https://10.0.0.33:2380"]);
    expect(c.memberId).toBe(memberIdFor(["https://10.0.0.3:2380", "https://10.0.0.33:2380"], "tok"));
    expect(c.members.map((m) => m.id)).toEqual([
      memberIdFor(["https://10.0.0.1:2380"], "tok"),
      memberIdFor(["https://10.0.0.2:2380"], "tok"),
      c.memberId,
    ]);
    expect(c.clusterId).toBe(clusterIdFor(c.members.map((m) => m.id)));
  });

  it("gives every member the same cluster id", () => {
    const ids = ["n1", "n2"].map(
      (n, i) =>
        parse([
          `--name=${n}`,
          `--initial-advertise-peer-urls=https://10.0.0.${i + 1}:2380`,
          `--initial-cluster=${cluster}`,
        ]).clusterId,
    );
    expect(ids[0]).toBe(ids[1]);
  });

  it("rejects a name missing from --initial-cluster", () => {
    const msg = configError(() =>
      parse([
        "--name=n9",
        "--initial-advertise-peer-urls=https://10.0.0.9:2380",
        `--initial-cluster=${cluster}`,
      ]),
    );
    expect(msg).toMatch(/^--initial-cluster: .*'n9'.*not in --initial-cluster/);
  });

  it("rejects peer URLs that differ from --initial-advertise-peer-urls", () => {
    const msg = configError(() =>
      parse([
        "--name=n1",
        "--initial-advertise-peer-urls=https://10.0.0.7:2380",
        `--initial-cluster=${cluster}`,
      ]),
    );
    expect(msg).toMatch(/^--initial-cluster: peer URLs of 'n1' .*do not match --initial-advertise-peer-urls/);
  });

  it("rejects a URL given to two members and malformed entries", () => {
    expect(
      configError(() => parse(["--initial-cluster=default=https://localhost:2380,x=https://localhost:2380"])),
    ).toMatch(/^--initial-cluster: peer URL https:\/\/localhost:2380 is given to both 'default' and 'x'/);
    expect(configError(() => parse(["--initial-cluster=https://localhost:2380"]))).toMatch(
      /^--initial-cluster: entry .* is not name=url/,
    );
  });
});

describe("flags and environment", () => {
  it("reads every flag from its CAIRN_ variable", () => {
    const c = parse([], {
      CAIRN_NAME: "envname",
      CAIRN_INITIAL_CLUSTER_STATE: "existing",
      CAIRN_HEARTBEAT_INTERVAL: "50",
      CAIRN_ELECTION_TIMEOUT: "500",
      CAIRN_LOG_LEVEL: "debug",
      PATH: "/usr/bin",
    });
    expect(c.name).toBe("envname");
    expect(c.initialClusterState).toBe("existing");
    expect(c.heartbeatIntervalMs).toBe(50);
    expect(c.electionTimeoutMs).toBe(500);
    expect(c.logLevel).toBe("debug");
  });

  it("lets a flag win over its variable and notes the shadowed variable", () => {
    const c = parse(["--name", "flagname"], { CAIRN_NAME: "envname" });
    expect(c.name).toBe("flagname");
    expect(c.warnings).toEqual(["environment variable CAIRN_NAME is shadowed by the flag --name"]);
  });

  it("ignores empty variables, as etcd does", () => {
    expect(parse([], { CAIRN_NAME: "" }).name).toBe("default");
  });

  it("names the variable when its value is wrong", () => {
    expect(configError(() => parse([], { CAIRN_HEARTBEAT_INTERVAL: "abc" }))).toBe(
      "--heartbeat-interval (from CAIRN_HEARTBEAT_INTERVAL): expected a positive integer (ms), got 'abc'",
    );
  });

  it("rejects an unknown CAIRN_ variable but ignores the client's variables", () => {
    expect(configError(() => parse([], { CAIRN_FOO_BAR: "1" }))).toBe(
      "unrecognized environment variable CAIRN_FOO_BAR (no flag --foo-bar)",
    );
    expect(parse([], { CAIRN_ENDPOINTS: "http://127.0.0.1:2379" }).name).toBe("default");
  });

  it("accepts Go flag syntax: --f v, --f=v, -f v, -f=v; the last occurrence wins", () => {
    expect(parse(["-name", "a"]).name).toBe("a");
    expect(parse(["-name=b"]).name).toBe("b");
    expect(parse(["--name", "c", "--name=d"]).name).toBe("d");
  });

  it("rejects unknown flags, missing values and positional arguments", () => {
    expect(configError(() => parse(["--foo"]))).toBe("unknown flag --foo");
    expect(configError(() => parse(["--foo=1"]))).toBe("unknown flag --foo");
    expect(configError(() => parse(["--name"]))).toMatch(/^--name: missing value/);
    expect(configError(() => parse(["extra"]))).toMatch(/^unexpected argument 'extra'/);
  });

  it("recognizes help requests", () => {
    expect(isServeHelpRequest(["--name", "x", "--help"])).toBe(true);
    expect(isServeHelpRequest(["-h"])).toBe(true);
    expect(isServeHelpRequest(["--name", "x"])).toBe(false);
    try {
      parse(["--help"]);
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).helpRequested).toBe(true);
    }
  });
});

describe("validation names the flag", () => {
  it("integers must be positive", () => {
    expect(configError(() => parse(["--heartbeat-interval", "abc"]))).toBe(
      "--heartbeat-interval: expected a positive integer (ms), got 'abc'",
    );
    expect(configError(() => parse(["--heartbeat-interval", "0"]))).toMatch(/^--heartbeat-interval: /);
    expect(configError(() => parse(["--election-timeout", "-5"]))).toMatch(/^--election-timeout: /);
    expect(configError(() => parse(["--snapshot-count", "1.5"]))).toMatch(/^--snapshot-count: /);
    expect(configError(() => parse(["--max-request-bytes", "1e6"]))).toMatch(/^--max-request-bytes: /);
  });

  it("election timeout must be at least 5 heartbeats (etcd's rule) and at most 50000 ms", () => {
    expect(configError(() => parse(["--heartbeat-interval=250", "--election-timeout=1000"]))).toMatch(
      /^--election-timeout: 1000ms should be at least 5 times --heartbeat-interval \(250ms\)/,
    );
    const c = parse(["--heartbeat-interval=200", "--election-timeout=1000"]);
    expect(c.electionTimeoutMs).toBe(1000);
    expect(configError(() => parse(["--heartbeat-interval=100", "--election-timeout=60000"]))).toMatch(
      /^--election-timeout: 60000ms is too long/,
    );
  });

  it("client URLs must be http with host and port", () => {
    expect(configError(() => parse(["--listen-client-urls=ftp://localhost:2379"]))).toMatch(
      /^--listen-client-urls: 'ftp:\/\/localhost:2379' must use http/,
    );
    expect(configError(() => parse(["--listen-client-urls=https://localhost:2379"]))).toMatch(
      /^--listen-client-urls: 'https:\/\/localhost:2379' must use http \(TLS for clients is not supported yet\)/,
    );
    expect(configError(() => parse(["--listen-client-urls=http://localhost"]))).toMatch(
      /^--listen-client-urls: .*host and port required/,
    );
    expect(configError(() => parse(["--listen-client-urls=localhost:2379"]))).toMatch(
      /^--listen-client-urls: /,
    );
    expect(configError(() => parse(["--listen-client-urls=http://localhost:2379/v1"]))).toMatch(
      /^--listen-client-urls: .*must not contain a path/,
    );
    expect(configError(() => parse(["--listen-client-urls=http://a:1,,http://b:2"]))).toMatch(
      /^--listen-client-urls: expected a comma-separated list/,
    );
  });

  it("keeps an explicit default port and canonicalizes URLs", () => {
    const c = parse(["--listen-client-urls=HTTP://LocalHost:80/,http://[::1]:2379"]);
    expect(c.listenClientUrls).toEqual(["http://localhost:80", "http://[::1]:2379"]);
  });

  it("peer URLs must be https", () => {
    expect(configError(() => parse(["--listen-peer-urls=http://localhost:2380"]))).toMatch(
      /^--listen-peer-urls: .*must use https \(peers always use mutual TLS\)/,
    );
    expect(
      configError(() =>
        parse([
          "--initial-advertise-peer-urls=http://localhost:2380",
          "--initial-cluster=default=http://localhost:2380",
        ]),
      ),
    ).toMatch(/^--initial-advertise-peer-urls: .*must use https/);
  });

  it("advertised URLs must be reachable; a 0.0.0.0 listen URL needs an explicit advertise URL", () => {
    expect(configError(() => parse(["--listen-client-urls=http://0.0.0.0:2379"]))).toMatch(
      /^--advertise-client-urls: required because --listen-client-urls cannot be advertised/,
    );
    const c = parse([
      "--listen-client-urls=http://0.0.0.0:2379",
      "--advertise-client-urls=http://10.1.1.1:2379",
    ]);
    expect(c.listenClientUrls).toEqual(["http://0.0.0.0:2379"]);
    expect(c.advertiseClientUrls).toEqual(["http://10.1.1.1:2379"]);
    expect(configError(() => parse(["--advertise-client-urls=http://0.0.0.0:2379"]))).toMatch(
      /^--advertise-client-urls: .*not reachable/,
    );
  });

  it("initial cluster state is new or existing", () => {
    expect(configError(() => parse(["--initial-cluster-state=old"]))).toBe(
      "--initial-cluster-state: expected 'new' or 'existing', got 'old'",
    );
  });

  it("log level is one of debug, info, warn, error", () => {
    expect(configError(() => parse(["--log-level=trace"]))).toMatch(/^--log-level: expected one of/);
  });

  it("names must fit in --initial-cluster", () => {
    expect(configError(() => parse(["--name=a=b"]))).toMatch(/^--name: /);
    expect(configError(() => parse(["--name="]))).toBe("--name: must not be empty");
  });

  it("the three peer TLS files are required and must exist", () => {
    const [cert, key, ca] = tls;
    expect(configError(() => parseServeConfig([key!, ca!], {}))).toMatch(
      /^--peer-cert-file: required \(peers always use mutual TLS\)/,
    );
    expect(configError(() => parseServeConfig([cert!, ca!], {}))).toMatch(/^--peer-key-file: required/);
    expect(configError(() => parseServeConfig([cert!, key!], {}))).toMatch(
      /^--peer-trusted-ca-file: required/,
    );
    const missing = join(dir, "nope.pem");
    expect(configError(() => parseServeConfig([cert!, key!, `--peer-trusted-ca-file=${missing}`], {}))).toBe(
      `--peer-trusted-ca-file: file not found: ${missing}`,
    );
    expect(
      configError(() => parseServeConfig([`--peer-cert-file=${join(dir, "a-dir")}`, key!, ca!], {})),
    ).toMatch(/^--peer-cert-file: not a regular file/);
    const fromEnv = parseServeConfig([], {
      CAIRN_PEER_CERT_FILE: join(dir, "cert.pem"),
      CAIRN_PEER_KEY_FILE: join(dir, "key.pem"),
      CAIRN_PEER_TRUSTED_CA_FILE: join(dir, "ca.pem"),
    });
    expect(fromEnv.peerKeyFile).toBe(join(dir, "key.pem"));
  });
});

describe("flag table", () => {
  it("gives every flag its CAIRN_ variable, a description, and appears in help and README", () => {
    const help = formatServeHelp();
    const md = formatServeFlagsMarkdown();
    for (const f of SERVE_FLAGS) {
      expect(f.env).toBe(envVarFor(f.name));
      expect(f.description.length).toBeGreaterThan(10);
      expect(help).toContain(`--${f.name} `);
      expect(help).toContain(f.env);
      expect(md).toContain(`\`--${f.name}\``);
    }
    expect(envVarFor("initial-cluster-state")).toBe("CAIRN_INITIAL_CLUSTER_STATE");
  });

  it("every flag in the table is accepted by the parser", () => {
    for (const f of SERVE_FLAGS) {
      const msg = (() => {
        try {
          parse([`--${f.name}=`]);
          return "";
        } catch (e) {
          return (e as Error).message;
        }
      })();
      expect(msg).not.toMatch(/unknown flag/);
    }
  });
});
