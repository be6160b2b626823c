/**
 * The smallest HTTP/1.1 client the load generator needs: POST a prebuilt JSON body over a
 * keep-alive node:http Agent and read the whole answer. One Agent per endpoint with maxSockets =
 * number of clients on that endpoint gives each closed-loop client its own connection (as etcd's
 * benchmark tool gives each client its own gRPC connection, --conns = --clients).
 */
import http from "node:http";

/** An answer: status code and body text. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/** A keep-alive connection pool to one endpoint (plain http://127.0.0.1:port). */
export interface Endpoint {
  /** Base URL, e.g. "http://127.0.0.1:2379". */
  url: string;
  hostname: string;
  port: number;
  agent: http.Agent;
}

/**
 * Opens a keep-alive pool to `url` with up to `connections` sockets.
 * @throws Error if the URL is not http:// on a loopback address (the benchmark never leaves the machine)
 */
export function openEndpoint(url: string, connections: number): Endpoint {
  const u = new URL(url);
  if (u.protocol !== "http:") throw new Error(`only http:// endpoints are supported, got ${url}`);
  if (!["127.0.0.1", "[::1]", "localhost"].includes(u.hostname)) {
    throw new Error(`only loopback endpoints are allowed, got ${url}`);
  }
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: connections,
    maxFreeSockets: connections,
    scheduling: "fifo",
  });
  return {
    url: u.origin,
    hostname: u.hostname === "[::1]" ? "::1" : u.hostname,
    port: Number(u.port || 80),
    agent,
  };
}

/** Closes every socket of the pool. */
export function closeEndpoint(e: Endpoint): void {
  e.agent.destroy();
}

/**
 * POSTs `body` (JSON) to `path` and reads the full answer.
 * @param timeoutMs the request is aborted (and rejects) when no answer is complete within this time
 * @throws Error with `code` (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ...) on a network failure or timeout
 */
export function postJson(e: Endpoint, path: string, body: Buffer, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: e.hostname,
        port: e.port,
        path,
        method: "POST",
        agent: e.agent,
        headers: { "content-type": "application/json", "content-length": body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
    );
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" });
      req.destroy(err);
    }, timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}

/**
 * POSTs a JSON value and parses the JSON answer (for setup calls, not for measured requests).
 * @throws Error on a network failure, a non-2xx status (message carries status and body) or invalid JSON
 */
export async function postJsonValue(
  url: string,
  path: string,
  value: unknown,
  timeoutMs = 5_000,
): Promise<unknown> {
  const r = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${url}${path}: ${r.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}
