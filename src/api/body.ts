/**
 * Request body reading under `--max-request-bytes` (etcd's limit on one request). A declared
 * Content-Length over the limit is refused before anything is read; a body with a length is read
 * through the runtime's buffered fast path and its size checked again; a body without one
 * (chunked HTTP/1.1, HTTP/2 without content-length) is streamed and its bytes counted, so it
 * stops at the limit.
 */
import type { IncomingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import type { Context } from "hono";
import { concatBytes } from "../util/bytes.ts";
import { CairnError, invalidArgument } from "../util/errors.ts";
import { locateJsonError } from "./json-locate.ts";

function tooLarge(bytes: number | string, maxRequestBytes: number): CairnError {
  return new CairnError(
    "payload_too_large",
    `request body of ${bytes} bytes is over the limit of ${maxRequestBytes} bytes (--max-request-bytes)`,
  );
}

/** Request headers as Node parsed them, when @hono/node-server serves the request (c.env.incoming). */
function nodeHeaders(c: Context): IncomingHttpHeaders | undefined {
  return (c.env as { incoming?: { headers?: IncomingHttpHeaders } } | undefined)?.incoming?.headers;
}

/**
 * Whether the body can be read through the runtime's buffered fast path: a Content-Length (within
 * the limit) and no Transfer-Encoding. HTTP/1.1 framing and nghttp2 (HTTP/2) both hold the body to
 * its Content-Length, so the buffered read (@hono/node-server reads the socket without web
 * streams) is safe; the count is checked again anyway. The headers are read from Node's parsed
 * header object when there is one (what c.req.header would answer there, without building a
 * lookup over the raw headers per request).
 * @throws CairnError "payload_too_large" when Content-Length exceeds the limit
 */
function bufferedRead(c: Context, maxRequestBytes: number): boolean {
  const headers = nodeHeaders(c);
  const declared = headers ? headers["content-length"] : c.req.header("content-length");
  if (declared === undefined) return false;
  const length = Number(declared);
  if (length > maxRequestBytes) throw tooLarge(declared, maxRequestBytes);
  const transferEncoding = headers ? headers["transfer-encoding"] : c.req.header("transfer-encoding");
  return Number.isSafeInteger(length) && transferEncoding === undefined;
}

/**
 * Reads the whole request body into a Uint8Array that belongs to this request alone (under
 * Node.js, a view of the chunk the HTTP parser copied the body into, when it came in one).
 * @param maxRequestBytes most bytes accepted
 * @throws CairnError "payload_too_large" when Content-Length or the received bytes exceed it
 * @throws Error when the request stream fails or the client goes away before the body ends
 */
export async function readBodyBytes(c: Context, maxRequestBytes: number): Promise<Uint8Array> {
  if (bufferedRead(c, maxRequestBytes)) {
    const incoming = unreadIncoming(c);
    if (incoming !== undefined) return readIncoming(incoming, maxRequestBytes);
    const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
    if (bytes.byteLength > maxRequestBytes) throw tooLarge(bytes.byteLength, maxRequestBytes);
    return bytes;
  }
  return readStreamed(c, maxRequestBytes);
}

/** Node's request stream when @hono/node-server serves the request and nothing has read its body yet. */
function unreadIncoming(c: Context): Readable | undefined {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  return incoming instanceof Readable && !incoming.readableDidRead ? incoming : undefined;
}

/**
 * Reads Node's request stream to its end, without the copy that @hono/node-server's
 * `arrayBuffer()` makes of the body (the parser hands over each chunk in a Buffer of its own
 * already; one more ArrayBuffer per request is one more for every scavenge pause to sweep).
 * A body in one chunk is returned as a plain Uint8Array view of that chunk, several are joined.
 * @throws CairnError "payload_too_large" when more than maxRequestBytes arrive
 * @throws Error when the stream fails or the client goes away before the body ends
 */
function readIncoming(incoming: Readable, maxRequestBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (fn: () => void) => {
      incoming.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
      fn();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxRequestBytes)
        finish(() => reject(tooLarge(`more than ${maxRequestBytes}`, maxRequestBytes)));
      else chunks.push(chunk);
    };
    const onEnd = () =>
      finish(() => {
        const only = chunks.length === 1 ? chunks[0]! : undefined;
        resolve(only ? new Uint8Array(only.buffer, only.byteOffset, only.byteLength) : concatBytes(chunks));
      });
    const onError = (err: Error) => finish(() => reject(err));
    const onClose = () => {
      if (!incoming.readableEnded)
        finish(() => reject(new Error("the client went away before the request body ended")));
    };
    incoming.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}

/** The body without a usable Content-Length (chunked HTTP/1.1, HTTP/2 without one), counted as it arrives. */
async function readStreamed(c: Context, maxRequestBytes: number): Promise<Uint8Array> {
  const body = c.req.raw.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxRequestBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`more than ${maxRequestBytes}`, maxRequestBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) {
    // Own copy when the chunk is a view into a larger (pooled) buffer.
    const only = chunks[0]!;
    return only.byteOffset === 0 && only.byteLength === only.buffer.byteLength ? only : only.slice();
  }
  return concatBytes(chunks);
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads and parses a JSON request body (whatever its Content-Type: `curl -d` sends form encoding,
 * and etcd's gateway accepts that too).
 * @param emptyAs what an empty body stands for; absent = an empty body is an error. etcd's gateway
 *   reads an empty body as the empty message (grpc-gateway ignores io.EOF), so /v3 passes `{}`.
 * @returns the parsed value (unknown: validate it with a schema)
 * @throws CairnError "payload_too_large" over `maxRequestBytes`
 * @throws CairnError "invalid_argument" as {@link parseJsonBody}
 */
export async function readJsonBody(c: Context, maxRequestBytes: number, emptyAs?: object): Promise<unknown> {
  return parseJsonBody(await readBodyBytes(c, maxRequestBytes), emptyAs);
}

/**
 * Parses a JSON request body already read (the second half of {@link readJsonBody}).
 * @param emptyAs see {@link readJsonBody}
 * @throws CairnError "invalid_argument" when the body is empty, not UTF-8 or not JSON; the message
 *   names line and column, and details carry `line` and `column`
 */
export function parseJsonBody(bytes: Uint8Array, emptyAs?: object): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw invalidArgument("request body is not valid UTF-8");
  }
  if (text.trim() === "") {
    if (emptyAs) return emptyAs;
    throw invalidArgument("request body is empty, expected a JSON object");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const where = locateJsonError(text);
    if (!where) throw invalidArgument(`request body is not valid JSON: ${(e as Error).message}`);
    throw new CairnError(
      "invalid_argument",
      `request body is not valid JSON: ${where.message} at line ${where.line}, column ${where.column}`,
      { line: where.line, column: where.column },
    );
  }
}
