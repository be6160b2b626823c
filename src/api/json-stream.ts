/**
 * A request body read as a stream of JSON objects, one after the other (`{…}{…}` or one per
 * line), as etcd's grpc-gateway reads the requests of a bidirectional stream such as
 * POST /v3/watch: each object is yielded as soon as its closing brace arrives, while the body
 * is still open.
 */
import { CairnError, invalidArgument } from "../util/errors.ts";
import { textChunks } from "./text-stream.ts";

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\n" || ch === "\r" || ch === "\t";
}

/**
 * Yields the parsed JSON objects of `body` in order.
 * @param maxObjectBytes most characters of one object (the request limit, --max-request-bytes)
 * @param signal when it aborts, reading stops (the body is cancelled) and the generator ends
 * @throws CairnError "invalid_argument" when the body is not UTF-8, holds something other than
 *   objects, an object is not valid JSON, or the body ends inside one; "payload_too_large" when
 *   one object passes maxObjectBytes
 */
export async function* jsonObjects(
  body: ReadableStream<Uint8Array> | null,
  maxObjectBytes: number,
  signal?: AbortSignal,
): AsyncGenerator<unknown, void, undefined> {
  let buf = "";
  let start = -1; // index in buf of the current object's "{", -1 between objects
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scanned = 0;
  for await (const { text, done } of textChunks(body, signal)) {
    buf += text;
    for (let i = scanned; i < buf.length; i++) {
      const ch = buf[i]!;
      if (start < 0) {
        if (isSpace(ch)) continue;
        if (ch !== "{") throw invalidArgument("request body must be a sequence of JSON objects");
        start = i;
        depth = 1;
      } else if (inString) {
        if (escaped) escaped = false;
        else if (ch === "\\") escaped = true;
        else if (ch === '"') inString = false;
      } else if (ch === '"') {
        inString = true;
      } else if (ch === "{" || ch === "[") {
        depth++;
      } else if ((ch === "}" || ch === "]") && --depth === 0) {
        const text = buf.slice(start, i + 1);
        buf = buf.slice(i + 1);
        i = -1;
        start = -1;
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (e) {
          throw invalidArgument(`request body is not valid JSON: ${(e as Error).message}`);
        }
        yield parsed;
      }
    }
    scanned = buf.length;
    if (start >= 0 && buf.length - start > maxObjectBytes) {
      throw new CairnError(
        "payload_too_large",
        `a request object is over the limit of ${maxObjectBytes} bytes (--max-request-bytes)`,
      );
    }
    if (start < 0) {
      buf = "";
      scanned = 0;
    }
    if (done) {
      if (start >= 0) throw invalidArgument("request body ends inside a JSON object");
      return;
    }
  }
}
