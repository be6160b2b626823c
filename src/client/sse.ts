/**
 * An incremental parser of Server-Sent Events (WHATWG HTML "Parsing an event stream"): feed it
 * decoded text as it arrives; it returns each complete event (dispatched at a blank line).
 * Comment lines (": heartbeat") produce no event. Fields: event, data (joined with "\n"), id;
 * `retry` and unknown fields are ignored.
 */

/** One dispatched event. `event` is "message" when the stream named no type. */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** Longest line kept while waiting for its end (bytes of text); a longer one is a protocol error. */
export const MAX_SSE_LINE_CHARS = 64 * 1024 * 1024;

export class SseParser {
  private buf = "";
  private event = "";
  private data: string[] = [];
  private id: string | undefined;
  private hasData = false;

  /**
   * Feeds text; returns the events completed by it.
   * @throws Error when a line grows past MAX_SSE_LINE_CHARS
   */
  push(chunk: string): SseEvent[] {
    this.buf += chunk;
    const out: SseEvent[] = [];
    let start = 0;
    for (;;) {
      let end = -1;
      let next = -1;
      for (let i = start; i < this.buf.length; i++) {
        const ch = this.buf.charCodeAt(i);
        if (ch === 10) {
          end = i;
          next = i + 1;
          break;
        }
        if (ch === 13) {
          // "\r\n" or a lone "\r"; a "\r" at the very end may be half of "\r\n": wait for more.
          if (i + 1 >= this.buf.length) break;
          end = i;
          next = this.buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
          break;
        }
      }
      if (end < 0) break;
      this.line(this.buf.slice(start, end), out);
      start = next;
    }
    this.buf = this.buf.slice(start);
    if (this.buf.length > MAX_SSE_LINE_CHARS) throw new Error("event stream line too long");
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.hasData || this.event !== "" || this.id !== undefined) {
        out.push({ event: this.event || "message", data: this.data.join("\n"), id: this.id });
      }
      this.event = "";
      this.data = [];
      this.hasData = false;
      this.id = undefined;
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.id = value;
        break;
    }
  }
}
