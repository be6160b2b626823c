/**
 * Request body reading under `--max-request-bytes` (etcd's limit on one request). The declared
 * Content-Length is checked first (nothing is read when it is over), then the bytes actually
 * received are counted while streaming, so a body without a length (chunked, HTTP/2 DATA frames)
 * or with a wrong one cannot get past the limit either.
 */
import type { Context } from "hono";
import { CairnError, invalidArgument } from "../util/errors.ts";
import { locateJsonError } from "./json-locate.ts";

function tooLarge(bytes: number | string, maxRequestBytes: number): CairnError {
  return new CairnError(
    "payload_too_large",
    `request body of ${bytes} bytes is over the limit of ${maxRequestBytes} bytes (--max-request-bytes)`,
  );
}

/**
 * Reads the whole request body into a fresh Uint8Array.
 * @param maxRequestBytes most bytes accepted
 * @throws CairnError "payload_too_large" when Content-Length or the received bytes exceed it
 */
export async function readBodyBytes(c: Context, maxRequestBytes: number): Promise<Uint8Array> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > maxRequestBytes) throw tooLarge(declared, maxRequestBytes);
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
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads and parses a JSON request body (whatever its Content-Type: `curl -d` sends form encoding,
 * and etcd's gateway accepts that too).
 * @returns the parsed value (unknown: validate it with a schema)
 * @throws CairnError "payload_too_large" over `maxRequestBytes`
 * @throws CairnError "invalid_argument" when the body is empty, not UTF-8 or not JSON; the message
 *   names line and column, and details carry `line` and `column`
 */
export async function readJsonBody(c: Context, maxRequestBytes: number): Promise<unknown> {
  const bytes = await readBodyBytes(c, maxRequestBytes);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw invalidArgument("request body is not valid UTF-8");
  }
  if (text.trim() === "") throw invalidArgument("request body is empty, expected a JSON object");
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
