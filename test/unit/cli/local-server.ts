/**
 * A small HTTP server on 127.0.0.1 (port 0) for the CLI's unit tests: it records each request
 * and answers with what the test's handler returns. It stands for "some endpoint" in failover
 * tests and returns fixed contract answers in output tests; end-to-end CLI tests against real
 * Cairn members live in test/e2e.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A request as the server saw it. */
export interface SeenRequest {
  method: string;
  /** Raw path and query as sent (not decoded). */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What to answer: status, JSON (or raw) body, headers; "destroy" drops the connection unanswered; "hang" never answers. */
export type Answer =
  | { status: number; json?: unknown; body?: string | Buffer; headers?: Record<string, string> }
  | "destroy"
  | "hang";

export interface LocalServer {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts a server that answers every request with `handler(request)`. */
export async function startServer(handler: (req: SeenRequest) => Answer): Promise<LocalServer> {
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen: SeenRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(seen);
      const answer = handler(seen);
      if (answer === "destroy") {
        req.socket.destroy();
        return;
      }
      if (answer === "hang") return;
      const headers: Record<string, string> = { ...(answer.headers ?? {}) };
      let body: string | Buffer = answer.body ?? "";
      if (answer.json !== undefined) {
        body = JSON.stringify(answer.json);
        headers["content-type"] ??= "application/json";
      }
      res.writeHead(answer.status, headers);
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on 127.0.0.1 where nothing listens: a server is started, its port noted, then closed. */
export async function closedPortUrl(): Promise<string> {
  const s = await startServer(() => ({ status: 200 }));
  await s.close();
  return s.url;
}

/** The contract's error answer. */
export function errorAnswer(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): Answer {
  return {
    status,
    json: { error: { code, message, ...extra } },
    ...(status === 503 ? { headers: { "retry-after": "1" } } : {}),
  };
}
