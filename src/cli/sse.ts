/**
 * A reader of Server-Sent Events (WHATWG HTML "Server-sent events", the event stream format) for
 * the CLI's streaming commands (`watch` on GET /v1/watch, `elect` on GET /v1/elections/…/observe).
 */

/** One dispatched event: its type ("message" when none was given), last id seen, and data. */
export interface SseEvent {
  event: string;
  /** The `id` field of this event, if it had one. */
  id?: string;
  data: string;
}

/**
 * Yields the events of an event stream as they complete (a blank line ends each). Comments
 * (": heartbeat") are not yielded but count as activity.
 * @param onActivity called on every chunk received (to reset a silence timer)
 */
export async function* sseEvents(
  body: AsyncIterable<Uint8Array>,
  onActivity?: () => void,
): AsyncGenerator<SseEvent, void, undefined> {
  const decoder = new TextDecoder();
  let buf = "";
  let event = "";
  let id: string | undefined;
  let data: string[] = [];
  let hasData = false;
  for await (const chunk of body) {
    onActivity?.();
    buf += decoder.decode(chunk, { stream: true });
    for (let nl = buf.search(/\r\n|\n|\r/); nl >= 0; nl = buf.search(/\r\n|\n|\r/)) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (hasData)
          yield { event: event || "message", ...(id !== undefined ? { id } : {}), data: data.join("\n") };
        event = "";
        id = undefined;
        data = [];
        hasData = false;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") {
        data.push(value);
        hasData = true;
      }
    }
  }
}
