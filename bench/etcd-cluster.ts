/**
 * A three-member etcd 3.4 cluster on loopback for side-by-side benchmarks: temp data dirs, free
 * ports, peer TLS with client-certificate auth (certificates from src/tls/certs.ts, the same kind
 * Cairn's members use) or plain HTTP peers, clients on plain HTTP. etcd keeps its default fsync
 * behaviour (no --unsafe-no-fsync). Flags after etcd's clustering guide (op-guide/clustering.md,
 * "Static") and security guide (op-guide/security.md, peer TLS).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureDevCertificates } from "../src/tls/certs.ts";
import { freePorts } from "../test/helpers/cluster.ts";
import { registerCleanup } from "./cleanup.ts";
import { postJsonValue } from "./http.ts";

/** Where etcd is looked for when not on PATH (Debian's etcd-server package installs /usr/bin/etcd). */
const ETCD_CANDIDATES = ["/usr/bin/etcd", "/usr/local/bin/etcd"];

/** One running etcd member. */
export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
  process: ChildProcess | null;
}

/** Options of {@link startEtcdCluster}. */
export interface EtcdClusterOptions {
  /** Members (odd, 1..7); default 3. */
  size?: number;
  /** Peer traffic over TLS with client-certificate auth (default true, like Cairn's peers). */
  peerTls?: boolean;
  /** Path of the etcd binary; default: found on PATH or in /usr/bin, /usr/local/bin. */
  etcdBin?: string;
  /** Directory under which the temp dir is made; default os.tmpdir(). */
  baseDir?: string;
  /** Give up waiting for health and a leader after this many ms; default 30000. */
  startTimeoutMs?: number;
}

/** A started cluster: its members, the leader, and stop(). */
export interface EtcdCluster {
  members: EtcdMember[];
  /** etcd's version line, e.g. "3.4.23". */
  version: string;
  peerTls: boolean;
  /** The member that was leader when the cluster came up. */
  leader: EtcdMember;
  /** Stops every member (SIGTERM, SIGKILL after 5 s) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Path of the etcd binary, or null if it is not installed. */
export function findEtcd(): string | null {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, "etcd"))) return path.join(dir, "etcd");
  }
  return ETCD_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** `etcd --version`'s version number, e.g. "3.4.23". @throws Error if the binary does not run */
export function etcdVersion(bin: string): string {
  const out = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 });
  return /etcd Version:\s*(\S+)/.exec(out)?.[1] ?? out.split("\n")[0]!.trim();
}

/**
 * Starts an etcd cluster and waits until every member answers GET /health with {"health":"true"}
 * and all agree on a leader (POST /v3/maintenance/status: `leader` equals one member's
 * header.member_id).
 * @throws Error if etcd is not installed, a member exits early, or the cluster is not healthy with a
 *   leader within startTimeoutMs (the message carries the tail of each member's log); the started
 *   members are stopped before the error is thrown
 */
export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const size = opts.size ?? 3;
  if (!Number.isInteger(size) || size < 1 || size > 7)
    throw new Error(`cluster size must be 1..7, got ${size}`);
  const bin = opts.etcdBin ?? findEtcd();
  if (!bin) throw new Error("etcd is not installed (apt-get install -y etcd-server)");
  const version = etcdVersion(bin);
  const peerTls = opts.peerTls ?? true;
  const dir = mkdtempSync(path.join(opts.baseDir ?? os.tmpdir(), "cairn-bench-etcd-"));
  const names = Array.from({ length: size }, (_, i) => `e${i + 1}`);
  const ports = await freePorts(size * 2);
  const members: EtcdMember[] = names.map((name, i) => ({
    name,
    clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `${peerTls ? "https" : "http"}://127.0.0.1:${ports[2 * i + 1]}`,
    dataDir: path.join(dir, name),
    logFile: path.join(dir, `${name}.log`),
    process: null,
  }));

  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(members.map(stopMember));
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = registerCleanup({
    release: stopAll,
    releaseNow: () => {
      for (const m of members) m.process?.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  });

  try {
    const certs = peerTls ? await ensureDevCertificates(path.join(dir, "certs"), names) : null;
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    for (const m of members) {
      const args = [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=${m.clientUrl}`,
        `--advertise-client-urls=${m.clientUrl}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-token=cairn-bench-etcd",
        "--initial-cluster-state=new",
        "--logger=zap",
        "--log-outputs=stderr",
        "--log-level=warn",
      ];
      if (certs) {
        const c = certs.members[m.name]!;
        args.push(
          `--peer-cert-file=${c.certFile}`,
          `--peer-key-file=${c.keyFile}`,
          `--peer-trusted-ca-file=${certs.caFile}`,
          "--peer-client-cert-auth",
        );
      }
      const log = openSync(m.logFile, "a");
      m.process = spawn(bin, args, { stdio: ["ignore", log, log], env: etcdEnv() });
      closeSync(log);
      m.process.once("exit", () => {
        m.process = null;
      });
    }
    const leader = await waitForHealthyLeader(members, opts.startTimeoutMs ?? 30_000);
    return {
      members,
      version,
      peerTls,
      leader,
      stop: async () => {
        await unregister();
      },
    };
  } catch (err) {
    const logs = members.map((m) => `--- ${m.name} (${m.logFile}):\n${tail(m.logFile)}`).join("\n");
    await unregister();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logs}`);
  }
}

/**
 * Finds the current leader: the member whose header.member_id equals the `leader` field of
 * POST /v3/maintenance/status. @returns null if members disagree, have no leader, or do not answer
 */
export async function findEtcdLeader(members: EtcdMember[]): Promise<EtcdMember | null> {
  const statuses = await Promise.all(
    members.map(async (m) => {
      try {
        return (await postJsonValue(m.clientUrl, "/v3/maintenance/status", {}, 1_000)) as {
          header?: { member_id?: string };
          leader?: string;
        };
      } catch {
        return null;
      }
    }),
  );
  const leaders = new Set(statuses.map((s) => s?.leader));
  const leaderId = statuses[0]?.leader;
  if (leaders.size !== 1 || !leaderId || leaderId === "0") return null;
  const idx = statuses.findIndex((s) => s?.header?.member_id === leaderId);
  return idx >= 0 ? members[idx]! : null;
}

async function waitForHealthyLeader(members: EtcdMember[], timeoutMs: number): Promise<EtcdMember> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  for (;;) {
    const dead = members.find((m) => m.process === null);
    if (dead) throw new Error(`etcd member ${dead.name} exited during startup`);
    const healthy = await Promise.all(members.map((m) => isHealthy(m.clientUrl)));
    if (healthy.every(Boolean)) {
      const leader = await findEtcdLeader(members);
      if (leader) return leader;
    }
    if (Date.now() > deadline)
      throw new Error(`etcd cluster not healthy with a leader within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const r = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
    if (!r.ok) return false;
    return ((await r.json()) as { health?: unknown }).health === "true";
  } catch {
    return false;
  }
}

async function stopMember(m: EtcdMember): Promise<void> {
  const p = m.process;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => p.kill("SIGKILL"), 5_000);
    p.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    p.kill("SIGTERM");
  });
  m.process = null;
}

/** The environment without ETCD_* variables (etcd reads each flag from ETCD_<FLAG> too). */
function etcdEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ETCD")));
}

function tail(file: string, bytes = 2_000): string {
  try {
    return readFileSync(file, "utf8").slice(-bytes);
  } catch {
    return "(no log)";
  }
}
