/**
 * The client's incremental Server-Sent Events parser (WHATWG "Parsing an event stream"): events
 * split across chunks at any byte, CRLF / CR / LF line ends, multi-line data, comments, ids.
 */
import { describe, expect, it } from "vitest";
import { SseParser } from "../../../src/client/sse.ts";

const STREAM =
  'event: created\nid: 4\ndata: {"revision":4,"start_revision":5}\n\n' +
  ": heartbeat\n\n" +
  'id: 5\r\ndata: {"revision":5,\r\ndata: "events":[]}\r\n\r\n' +
  "event: progress\rid: 9\rdata: {}\r\r" +
  "data:no-space\n\n";

const EXPECTED = [
  { event: "created", id: "4", data: '{"revision":4,"start_revision":5}' },
  { event: "message", id: "5", data: '{"revision":5,\n"events":[]}' },
  { event: "progress", id: "9", data: "{}" },
  { event: "message", id: undefined, data: "no-space" },
];

describe("SseParser", () => {
  it("parses a whole stream", () => {
    expect(new SseParser().push(STREAM)).toEqual(EXPECTED);
  });

  it("gives the same events however the stream is split", () => {
    for (let size = 1; size <= 7; size++) {
      const p = new SseParser();
      const out = [];
      for (let i = 0; i < STREAM.length; i += size) out.push(...p.push(STREAM.slice(i, i + size)));
      expect(out).toEqual(EXPECTED);
    }
  });

  it("holds an unfinished event until its blank line", () => {
    const p = new SseParser();
    expect(p.push("id: 1\ndata: x\n")).toEqual([]);
    expect(p.push("\n")).toEqual([{ event: "message", id: "1", data: "x" }]);
  });
});
