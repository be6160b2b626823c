/**
 * A reader of streamed HTTP response bodies for tests: SSE frames (WHATWG "event stream
 * interpretation") or JSON lines, every wait bounded by a timeout.
 */

/** One SSE event (WHATWG "event stream interpretation"), or a comment line. */
export interface SseFrame {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
}

/** Reads a streamed body piece by piece; every wait is bounded. */
export class BodyReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buf = "";
  ended = false;

  constructor(res: Response) {
    if (!res.body) throw new Error("response has no body");
    this.reader = res.body.getReader();
  }

  /** Reads until `sep` is in the buffer; returns the text before it (undefined at the end). */
  private async until(sep: string, timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.buf.indexOf(sep);
      if (at >= 0) {
        const out = this.buf.slice(0, at);
        this.buf = this.buf.slice(at + sep.length);
        return out;
      }
      if (this.ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no "${JSON.stringify(sep)}" within ${timeoutMs} ms; have ${JSON.stringify(this.buf)}`,
        );
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        this.reader.read(),
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), left);
        }),
      ]);
      clearTimeout(timer);
      if (r === "timeout") continue;
      if (r.done) this.ended = true;
      else this.buf += this.decoder.decode(r.value, { stream: true });
    }
  }

  /** The next SSE frame (an event, or a comment), undefined at the end of the stream. */
  async frame(timeoutMs = 3_000): Promise<SseFrame | undefined> {
    const block = await this.until("\n\n", timeoutMs);
    if (block === undefined) return undefined;
    const f: SseFrame = {};
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) f.comment = line.slice(1).trim();
      else {
        const colon = line.indexOf(":");
        const field = line.slice(0, colon);
        const value = line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") f.data = f.data === undefined ? value : `${f.data}\n${value}`;
        else if (field === "event" || field === "id") f[field] = value;
      }
    }
    return f;
  }

  /** The next SSE event, skipping comments. */
  async event(timeoutMs = 3_000): Promise<SseFrame | undefined> {
    for (;;) {
      const f = await this.frame(timeoutMs);
      if (f === undefined || f.comment === undefined) return f;
    }
  }

  /** The next line parsed as JSON, undefined at the end. */
  // biome-ignore lint/suspicious/noExplicitAny: tests navigate arbitrary response JSON
  async line(timeoutMs = 3_000): Promise<any> {
    const text = await this.until("\n", timeoutMs);
    return text === undefined ? undefined : JSON.parse(text);
  }

  /** True when the stream ends within `timeoutMs` with nothing more in it. */
  async endsWithin(timeoutMs = 3_000): Promise<boolean> {
    const rest = await this.until("\u0000never", timeoutMs).catch(() => "timeout");
    return rest === undefined && this.buf === "";
  }

  /** Cancels the body (the client goes away). */
  async cancel(): Promise<void> {
    await this.reader.cancel();
  }
}

/** Parsed data of an SSE frame. */
// biome-ignore lint/suspicious/noExplicitAny: tests navigate arbitrary response JSON
export function dataOf(f: SseFrame | undefined): any {
  if (f?.data === undefined) throw new Error(`no data in ${JSON.stringify(f)}`);
  return JSON.parse(f.data);
}
