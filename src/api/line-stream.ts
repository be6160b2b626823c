/**
 * A request body read as lines while it is still open (the pings of a streaming keep-alive):
 * each line, "\n"-terminated ("\r\n" too), is yielded as soon as its newline arrives. A last line
 * without a newline is yielded when the body ends, unless it is empty.
 */
import { CairnError } from "../util/errors.ts";
import { textChunks } from "./text-stream.ts";

/**
 * Yields the lines of `body` without their line ending.
 * @param maxLineBytes most characters of one line (the request limit, --max-request-bytes)
 * @param signal when it aborts, reading stops (the body is cancelled) and the generator ends
 * @throws CairnError "invalid_argument" when the body is not UTF-8; "payload_too_large" when a
 *   line passes maxLineBytes
 */
export async function* bodyLines(
  body: ReadableStream<Uint8Array> | null,
  maxLineBytes: number,
  signal?: AbortSignal,
): AsyncGenerator<string, void, undefined> {
  let buf = "";
  for await (const { text, done } of textChunks(body, signal)) {
    buf += text;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
      nl = buf.indexOf("\n");
    }
    if (buf.length > maxLineBytes) {
      throw new CairnError(
        "payload_too_large",
        `a line of the request is over the limit of ${maxLineBytes} bytes (--max-request-bytes)`,
      );
    }
    if (done) {
      if (buf.trim() !== "") yield buf;
      return;
    }
  }
}
