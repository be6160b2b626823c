/** A bare HTTP/2 client for probing the peer listener the way a foreign or broken peer would. */
import http2 from "node:http2";

/** Outcome of one request: a status and body, or the error that stopped it. */
export interface RawOutcome {
  status?: number;
  body: string;
  error?: string;
  /** RST_STREAM code the stream closed with (0 = NO_ERROR). */
  rstCode?: number;
}

/** TLS material of the client; cert/key omitted means "no client certificate". */
export interface RawTls {
  ca: string;
  cert?: string;
  key?: string;
}

/**
 * Sends one request and collects the answer; never rejects. Gives up after 5 s (a bound so a
 * broken test cannot hang; the cases tested resolve much sooner).
 */
export function rawRequest(
  url: string,
  tls: RawTls,
  req: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: Uint8Array;
    /** Write the body but leave the request side open (a long-lived stream), until the server closes it. */
    keepOpen?: boolean;
  },
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const outcome: RawOutcome = { body: "" };
    let done = false;
    const session = http2.connect(url, tls);
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error !== undefined && outcome.error === undefined) outcome.error = error;
      session.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish("gave up after 5 s"), 5_000);
    session.on("error", (err) => finish(err.message));
    session.on("close", () => finish("session closed"));
    const stream = session.request({ ":method": req.method, ":path": req.path, ...req.headers });
    stream.on("response", (headers) => {
      outcome.status = Number(headers[":status"]);
    });
    stream.on("data", (chunk: Buffer) => {
      outcome.body += chunk.toString("utf8");
    });
    stream.on("error", (err) => {
      outcome.error = err.message;
    });
    stream.on("close", () => {
      outcome.rstCode = stream.rstCode;
      finish(outcome.status === undefined ? "stream closed without a response" : undefined);
    });
    if (req.keepOpen) stream.write(req.body ?? new Uint8Array(0));
    else if (req.body !== undefined) stream.end(req.body);
    else stream.end();
  });
}
