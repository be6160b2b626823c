/**
 * Real `cairn serve` processes on loopback for integration tests: certificates from a fresh CA
 * in a temp dir, free ports, start / kill -9 / restart of members, and small HTTP helpers.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { MEMBER_NODE_FLAGS } from "../../src/cli/member-runtime.ts";
import { ensureDevCertificates } from "../../src/tls/certs.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const MAIN = path.join(ROOT, "src/cli/main.ts");

/** Runtime that runs the members. */
export type Runtime = "node" | "bun";

export interface TestMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | null;
  /** Everything the process wrote to stderr (for failure messages). */
  stderr: string;
  /** Resolves with the exit code of the last started process. */
  exited?: Promise<number | null>;
  /**
   * Extra environment variables of this member's process (e.g. CAIRN_TEST_FAILPOINTS_FILE), set on
   * every start; the test's own CAIRN_* variables are never passed on.
   */
  env?: Record<string, string>;
}

/** Finds `count` free TCP ports on 127.0.0.1 (bind port 0, read, close). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve) => {
          const s = net.createServer();
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A cluster of real member processes. Call `destroy()` in afterAll. */
export class TestCluster {
  readonly dir: string;
  members: TestMember[] = [];
  private certs!: Awaited<ReturnType<typeof ensureDevCertificates>>;

  private constructor(
    readonly size: number,
    readonly runtime: Runtime,
    private readonly extraFlags: string[],
  ) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), "cairn-it-"));
  }

  /** Creates certificates and member definitions (no process started). */
  static async create(
    size: number,
    opts: { runtime?: Runtime; extraFlags?: string[] } = {},
  ): Promise<TestCluster> {
    const c = new TestCluster(size, opts.runtime ?? "node", opts.extraFlags ?? []);
    const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
    c.certs = await ensureDevCertificates(path.join(c.dir, "certs"), names);
    const ports = await freePorts(size * 2);
    c.members = names.map((name, i) => ({
      name,
      clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
      peerUrl: `https://127.0.0.1:${ports[2 * i + 1]}`,
      dataDir: path.join(c.dir, name),
      process: null,
      stderr: "",
    }));
    return c;
  }

  get caFile(): string {
    return this.certs.caFile;
  }

  /** Starts every member. */
  async startAll(): Promise<void> {
    for (const m of this.members) this.start(m);
    await this.waitForLeader();
  }

  /**
   * Defines a new member `name` (fresh ports, data dir, a certificate of the cluster CA) and lists
   * it in `members`, so later starts of any member name it in --initial-cluster. Not started.
   */
  async defineMember(name: string): Promise<TestMember> {
    this.certs = await ensureDevCertificates(path.join(this.dir, "certs"), [
      ...this.members.map((m) => m.name),
      name,
    ]);
    const [clientPort, peerPort] = await freePorts(2);
    const m: TestMember = {
      name,
      clientUrl: `http://127.0.0.1:${clientPort}`,
      peerUrl: `https://127.0.0.1:${peerPort}`,
      dataDir: path.join(this.dir, name),
      process: null,
      stderr: "",
    };
    this.members.push(m);
    return m;
  }

  /**
   * Starts one member's process (no wait). `state` is --initial-cluster-state ("new" by default;
   * "existing" for a member added at runtime).
   */
  start(m: TestMember, state: "new" | "existing" = "new"): void {
    const cert = this.certs.members[m.name]!;
    const initialCluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(",");
    const flags = [
      "serve",
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      "--initial-cluster-token=cairn-it",
      `--initial-cluster-state=${state}`,
      `--peer-cert-file=${cert.certFile}`,
      `--peer-key-file=${cert.keyFile}`,
      `--peer-trusted-ca-file=${this.certs.caFile}`,
      "--log-level=warn",
      ...this.extraFlags,
    ];
    const [cmd, args] =
      this.runtime === "bun"
        ? [path.join(ROOT, "node_modules/.bin/bun"), [MAIN, ...flags]]
        : [process.execPath, [...MEMBER_NODE_FLAGS, ...nodeFlags(), "--import", "tsx", MAIN, ...flags]];
    const child = spawn(cmd, args, {
      cwd: ROOT,
      stdio: ["ignore", memberStdout(m.name), "pipe"],
      env: { ...testEnv(), ...m.env },
    });
    m.stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      m.stderr += d.toString();
    });
    m.process = child;
    m.exited = new Promise((resolve) =>
      child.once("exit", (code) => {
        if (m.process === child) m.process = null;
        resolve(code);
      }),
    );
  }

  /** kill -9 a member and wait for its exit. */
  async kill(m: TestMember, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = m.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill(signal);
    });
    m.process = null;
  }

  /** Stops every member (SIGTERM, then SIGKILL after 5 s). */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.process;
        if (!p) return;
        const t = setTimeout(() => p.kill("SIGKILL"), 5_000);
        await this.kill(m, "SIGTERM");
        clearTimeout(t);
      }),
    );
  }

  async destroy(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Status of a member, or null if it does not answer. */
  async status(m: TestMember): Promise<Record<string, unknown> | null> {
    try {
      const r = await fetch(`${m.clientUrl}/v1/status`, { signal: AbortSignal.timeout(1_000) });
      return r.ok ? ((await r.json()) as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  /**
   * Waits until every running member reports the same leader, which is itself running.
   * @returns the leader member
   * @throws Error after `timeoutMs`
   */
  async waitForLeader(timeoutMs = 15_000, exclude?: TestMember): Promise<TestMember> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((m) => m.process && m !== exclude);
      const statuses = await Promise.all(running.map((m) => this.status(m)));
      const leaders = new Set(statuses.map((s) => s?.leader));
      const leaderId = statuses[0]?.leader;
      if (leaders.size === 1 && leaderId) {
        const idx = statuses.findIndex((s) => s?.member_id === leaderId);
        if (idx >= 0) return running[idx]!;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `no leader within ${timeoutMs} ms: ${JSON.stringify(statuses)}\n${running.map((m) => `${m.name}: ${m.stderr.slice(-2000)}`).join("\n")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Extra Node.js flags for member processes (after the product's own, src/cli/member-runtime.ts)
 * from MEMBER_NODE_FLAGS (space-separated), e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile members under a benchmark.
 */
function nodeFlags(): string[] {
  return (process.env.MEMBER_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "");
}

/**
 * Where a member's stdout goes: ignored, or appended to `<MEMBER_STDOUT_DIR>/<name>.out` when that
 * variable is set (V8 prints --trace-gc and similar flags' output there).
 */
function memberStdout(name: string): "ignore" | number {
  const dir = process.env.MEMBER_STDOUT_DIR;
  return dir ? openSync(path.join(dir, `${name}.out`), "a") : "ignore";
}

function testEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CAIRN_")));
}

/** PUT a UTF-8 value; returns the response JSON. @throws Error on a non-2xx status */
export async function putKey(url: string, key: string, value: string): Promise<{ revision: number }> {
  const r = await fetch(`${url}/v1/kv/${encodeURIComponent(key)}`, {
    method: "PUT",
    body: value,
    signal: AbortSignal.timeout(10_000),
  });
  if (!r.ok) throw new Error(`PUT ${key} on ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as { revision: number };
}

/** GET a key's value as text, or null on 404. */
export async function getKey(url: string, key: string, consistency = "linearizable"): Promise<string | null> {
  const r = await fetch(`${url}/v1/kv/${encodeURIComponent(key)}?consistency=${consistency}`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`GET ${key} on ${url}: ${r.status} ${await r.text()}`);
  return r.text();
}

/**
 * Sends a JSON request to a member's client API and returns the status and the parsed JSON answer
 * (typed by the caller). @throws Error on a network error, a timeout (15 s) or a non-JSON answer
 */
export async function apiJson<T>(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: r.status, json: (await r.json()) as T };
}
