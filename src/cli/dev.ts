/**
 * `cairn dev [--nodes 3|5] [--base-port 2379] [--dir .cairn/dev]`: a local cluster of real
 * `cairn serve` processes on loopback with mutual TLS between them (own CA and member
 * certificates), file storage under ./.cairn/dev, stopped together on Ctrl-C. Ports follow
 * etcd's local-cluster convention (Procfile): clients 2379, 22379, 32379, 42379, 52379; peers one
 * above. A second run in the same directory reuses data and certificates: the same cluster restarts.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ensureDevCertificates } from "../tls/certs.ts";
import { memberExecArgv } from "./member-runtime.ts";

/** One member of the dev cluster: its name, ports and data dir. */
export interface DevMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
}

/**
 * Ports of member i (0-based) for a base client port P: P, P+20000, P+30000, ... (etcd's
 * 2379/22379/32379 convention); the peer port is the client port + 1.
 * @throws Error when a port would exceed 65535
 */
export function devMembers(nodes: number, basePort: number, dir: string): DevMember[] {
  return Array.from({ length: nodes }, (_, i) => {
    const clientPort = basePort + (i === 0 ? 0 : (i + 1) * 10_000);
    if (clientPort + 1 > 65_535)
      throw new Error(`--base-port ${basePort}: member ${i + 1} would need port ${clientPort + 1}`);
    const name = `infra${i + 1}`;
    return {
      name,
      clientUrl: `http://127.0.0.1:${clientPort}`,
      peerUrl: `https://127.0.0.1:${clientPort + 1}`,
      dataDir: path.join(dir, name),
    };
  });
}

/** Runs the dev cluster until SIGINT/SIGTERM. Exits 2 on a bad flag. */
export async function runDev(argv: string[]): Promise<void> {
  let values: { nodes?: string; "base-port"?: string; dir?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { nodes: { type: "string" }, "base-port": { type: "string" }, dir: { type: "string" } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`cairn dev: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const nodes = Number(values.nodes ?? 3);
  if (nodes !== 3 && nodes !== 5) {
    process.stderr.write(`cairn dev: --nodes must be 3 or 5, got '${values.nodes}'\n`);
    process.exit(2);
  }
  const basePort = Number(values["base-port"] ?? 2379);
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65_535) {
    process.stderr.write(`cairn dev: --base-port must be a port number, got '${values["base-port"]}'\n`);
    process.exit(2);
  }
  const dir = path.resolve(values.dir ?? path.join(".cairn", "dev"));
  let members: DevMember[];
  try {
    members = devMembers(nodes, basePort, dir);
  } catch (err) {
    process.stderr.write(`cairn dev: ${(err as Error).message}\n`);
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  const certs = await ensureDevCertificates(
    path.join(dir, "certs"),
    members.map((m) => m.name),
  );
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  const children: ChildProcess[] = [];
  let stopping = false;
  for (const m of members) {
    const cert = certs.members[m.name]!;
    const args = [
      ...(process.versions.bun ? process.execArgv : memberExecArgv(process.execArgv)),
      process.argv[1]!,
      "serve",
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      "--initial-cluster-token=cairn-dev-cluster",
      "--initial-cluster-state=new",
      `--peer-cert-file=${cert.certFile}`,
      `--peer-key-file=${cert.keyFile}`,
      `--peer-trusted-ca-file=${certs.caFile}`,
    ];
    const logFile = path.join(dir, `${m.name}.log`);
    const log = createWriteStream(logFile, { flags: "a" });
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv() });
    child.stdout!.pipe(log);
    let tail = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      log.write(chunk);
      tail = (tail + chunk.toString()).slice(-4_000);
    });
    child.on("exit", (code, signal) => {
      if (stopping) return;
      process.stderr.write(
        `[${m.name}] exited (code ${code}, signal ${signal}); log: ${logFile}\n${lastLines(tail, 5)}\n`,
      );
    });
    children.push(child);
  }
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping the cluster...\n");
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
            setTimeout(() => c.kill("SIGKILL"), 5_000).unref();
          }),
      ),
    );
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  const endpoints = members.map((m) => m.clientUrl).join(",");
  process.stdout.write(
    [
      `Starting a Cairn dev cluster of ${nodes} members (data: ${dir}):`,
      ...members.map(
        (m) =>
          `  ${m.name}  client ${m.clientUrl}  peer ${m.peerUrl}  log ${path.join(dir, `${m.name}.log`)}`,
      ),
      "",
    ].join("\n"),
  );
  // Members may be slow to start on a loaded machine: keep waiting, say so after 30 s.
  let healthy = await waitHealthy(members, 30_000);
  if (!healthy) {
    process.stdout.write("Not every member is healthy after 30 s; still waiting (see the logs above).\n");
    healthy = await waitHealthy(members, 300_000);
  }
  process.stdout.write(
    [
      healthy
        ? "The cluster is up: every member is healthy."
        : "The cluster did not become healthy; see the logs.",
      "",
      "Try:",
      `  curl -X PUT --data-binary '{"feature":true}' -H 'Content-Type: application/json' ${members[0]!.clientUrl}/v1/kv/config/app`,
      `  curl ${members[1]!.clientUrl}/v1/kv/config/app`,
      `  npx cairn --endpoints ${endpoints} endpoint status -w table`,
      "",
      "Ctrl-C stops every member.",
      "",
    ].join("\n"),
  );
}

/** The last `n` lines of `text`, indented. */
function lastLines(text: string, n: number): string {
  return text
    .trimEnd()
    .split("\n")
    .slice(-n)
    .map((l) => `    ${l}`)
    .join("\n");
}

async function waitHealthy(members: DevMember[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await Promise.all(
      members.map((m) =>
        fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2_000) })
          .then((r) => r.ok)
          .catch(() => false),
      ),
    );
    if (ok.every(Boolean)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** CAIRN_* variables of the caller would override the flags' meaning for members: drop them. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CAIRN_")));
}
