/**
 * A request body decoded as UTF-8 text while it is still open: the common reader under
 * bodyLines (line-stream.ts) and jsonObjects (json-stream.ts).
 */
import { invalidArgument } from "../util/errors.ts";

/** One decoded piece of the body; `done` on the last one (its text is what the decoder held back). */
export interface TextChunk {
  text: string;
  done: boolean;
}

/**
 * Yields the text of `body` as it arrives, then a last chunk with `done`.
 * @param signal when it aborts, reading stops (the body is cancelled) and the last chunk follows
 * @throws CairnError "invalid_argument" when the body is not UTF-8
 */
export async function* textChunks(
  body: ReadableStream<Uint8Array> | null,
  signal?: AbortSignal,
): AsyncGenerator<TextChunk, void, undefined> {
  if (body === null || signal?.aborted) return;
  const reader = body.getReader();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      let text: string;
      try {
        text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      } catch {
        throw invalidArgument("request body is not valid UTF-8");
      }
      yield { text, done };
      if (done) return;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
  }
}
