/**
 * `cairn dev`: starts a local cluster of real member processes with mutual TLS, prints the
 * endpoints, stops everything on SIGINT, and a second run in the same directory restarts the same
 * cluster with its data.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { getKey, putKey } from "../helpers/cluster.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/cairn.mjs");

/**
 * Base ports to try. Members use base, base + 20000 and base + 30000 (and each + 1 for peers), as
 * etcd's local clusters do. Bases up to 2766 keep every one of them below 32768, where Linux's
 * ephemeral ports start: a connection made by a test running alongside can then never hold one
 * (14379 once failed with EADDRINUSE on 34380).
 */
const BASE_PORT_CANDIDATES = [1379, 1479, 1579, 1679, 1779];

/** True when `port` on 127.0.0.1 can be bound right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** The first candidate base whose six ports are all free. */
async function freeBasePort(): Promise<number> {
  for (const base of BASE_PORT_CANDIDATES) {
    const ports = [0, 20_000, 30_000].flatMap((offset) => [base + offset, base + offset + 1]);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error(`no free base port among ${BASE_PORT_CANDIDATES.join(", ")}`);
}

const BASE_PORT = await freeBasePort();
const dir = process.env.DEVDIR ?? mkdtempSync(path.join(os.tmpdir(), "cairn-dev-"));
let child: ChildProcess | null = null;

/** Starts `cairn dev` and resolves with its stdout once it says the cluster is up. */
function startDev(): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, "dev", "--base-port", String(BASE_PORT), "--dir", dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = p;
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`cairn dev not up in 45 s:\n${out}\n${err}`)), 45_000);
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ctrl-C stops every member")) {
        clearTimeout(timer);
        if (out.includes("The cluster is up")) resolve(out);
        else reject(new Error(`cairn dev did not become healthy:\n${out}\n${err}`));
      }
    });
    p.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    p.on("exit", (code) => reject(new Error(`cairn dev exited ${code}:\n${out}\n${err}`)));
  });
}

/** SIGINT, as Ctrl-C; resolves with the exit code. */
function stopDev(): Promise<number | null> {
  const p = child!;
  child = null;
  return new Promise((resolve) => {
    p.removeAllListeners("exit");
    p.on("exit", (code) => resolve(code));
    p.kill("SIGINT");
  });
}

afterAll(async () => {
  if (child) await stopDev();
  if (!process.env.DEVDIR) rmSync(dir, { recursive: true, force: true });
});

it("runs a three-member cluster, stops on Ctrl-C and restarts the same cluster", async () => {
  const out = await startDev();
  expect(out).toContain(`http://127.0.0.1:${BASE_PORT}`);
  expect(out).toContain(`http://127.0.0.1:${BASE_PORT + 20_000}`);
  expect(out).toContain(`http://127.0.0.1:${BASE_PORT + 30_000}`);
  expect(out).toMatch(/curl /);
  await putKey(`http://127.0.0.1:${BASE_PORT}`, "dev-key", "kept");
  expect(await stopDev()).toBe(0);

  await startDev();
  expect(await getKey(`http://127.0.0.1:${BASE_PORT + 20_000}`, "dev-key")).toBe("kept");
  expect(await stopDev()).toBe(0);
}, 120_000);
