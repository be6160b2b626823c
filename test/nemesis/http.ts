/**
 * A small HTTP/1.1 client for the nemesis (node:http with keep-alive), whose failures say whether the
 * request can have reached the server. node:http never retries on its own (a retried PUT could be
 * applied twice and fake or hide a violation), and every request has a deadline.
 */
import http from "node:http";

/** An answer from the server. `body` is the whole body as UTF-8 text. */
export interface HttpResponse {
  kind: "response";
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * No answer. `sent` is false only when the connection was refused (the request cannot have reached
 * the server); a reset, a timeout or any other error may come after the server received it.
 */
export interface HttpFailure {
  kind: "error";
  sent: boolean;
  /** The error code (ECONNREFUSED, ECONNRESET, TIMEOUT, ...) or "UNKNOWN". */
  code: string;
  message: string;
}

export type HttpResult = HttpResponse | HttpFailure;

/** One request. */
export interface HttpRequest {
  method: "GET" | "PUT" | "DELETE" | "POST";
  /** Base URL, e.g. http://127.0.0.1:2379 */
  baseUrl: string;
  /** Path and query, starting with "/". */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Deadline of the whole exchange (connect, send, full answer) in ms. */
  timeoutMs: number;
}

/** Most bytes of an answer body kept (answers here are small; a bigger one is cut off). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Keep-alive HTTP client of one run; `close()` destroys its connections. Requests never throw: a
 * failure is an {@link HttpFailure}.
 */
export class HttpClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });

  /** Sends one request and reads the whole answer, within `req.timeoutMs`. */
  request(req: HttpRequest): Promise<HttpResult> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (r: HttpResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const url = new URL(req.path, req.baseUrl);
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));
      const r = http.request(url, { method: req.method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on("data", (c: Buffer) => {
          if (bytes < MAX_BODY_BYTES) chunks.push(c);
          bytes += c.length;
        });
        res.once("end", () =>
          settle({
            kind: "response",
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.once("error", (err) => settle(failure(err)));
      });
      const timer = setTimeout(() => {
        settle({
          kind: "error",
          sent: true,
          code: "TIMEOUT",
          message: `no answer within ${req.timeoutMs} ms`,
        });
        r.destroy();
      }, req.timeoutMs);
      r.once("error", (err) => settle(failure(err)));
      r.end(req.body);
    });
  }

  /** Destroys every connection of this client. */
  close(): void {
    this.agent.destroy();
  }
}

function failure(err: Error): HttpFailure {
  const code = (err as NodeJS.ErrnoException).code ?? "UNKNOWN";
  return { kind: "error", sent: code !== "ECONNREFUSED", code, message: err.message };
}

/** The `error.code` of a JSON error answer ({"error":{"code","message"}}), or "" when there is none. */
export function errorCode(res: HttpResponse): string {
  try {
    const j = JSON.parse(res.body) as { error?: { code?: unknown } };
    return typeof j.error?.code === "string" ? j.error.code : "";
  } catch {
    return "";
  }
}
