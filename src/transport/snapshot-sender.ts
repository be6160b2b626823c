/**
 * One snapshot request (POST /cairn/raft/snapshot, wire format in snapshot-wire.ts) on a peer's
 * HTTP/2 session: the MsgSnap frame, then the state pulled lazily from the caller's chunks with
 * back-pressure (the next chunk is read only once the stream has taken the previous one), then the
 * end frame with the byte count and CRC-32 (etcd rafthttp snapshotSender).
 */
import http2 from "node:http2";
import type { Logger } from "pino";
import { crc32 } from "../util/crc.ts";
import { ErrorBody } from "./error-body.ts";
import { MAX_SNAPSHOT_CHUNK_BYTES, MAX_SNAPSHOT_DATA_BYTES } from "./limits.ts";
import { FRAME_CONTENT_TYPE, RAFT_SNAPSHOT_PATH } from "./protocol.ts";
import { encodeSnapshotChunk, encodeSnapshotEnd } from "./snapshot-wire.ts";
import type { SnapshotChunks } from "./types.ts";

/** What {@link postSnapshot} sends. */
export interface SnapshotRequest {
  /** Extra request headers (the sender's cluster and member id). */
  headers: Record<string, string>;
  /** The encoded message frame: one MsgSnap whose snapshot.data is empty. */
  messageFrame: Buffer;
  /** Source of the state; called at most once, after the message frame went out. */
  data: () => SnapshotChunks;
  /** The request is cancelled when nothing was sent or received on it for this long (ms). */
  idleTimeoutMs: number;
  log: Logger;
}

/**
 * Posts one snapshot on `session`. The chunks of `data()` may have any size (larger ones are sent
 * in slices of MAX_SNAPSHOT_CHUNK_BYTES, empty ones skipped) and are copied before the next one is
 * asked for, so a source may reuse its buffer. Only about one chunk is buffered beyond HTTP/2's
 * flow-control window. The request is cancelled when nothing moves on it for `idleTimeoutMs`.
 *
 * @returns true when the peer answered 200 after the whole state and the end frame were written;
 *   false on a refusal, reset, lost session, idle timeout, a source that threw or yielded something
 *   other than a Uint8Array, or more than MAX_SNAPSHOT_DATA_BYTES of state. Settles only after the
 *   request has closed and the source's iterator, if it was not exhausted, has been closed
 *   (`return()`), so its file handles are released. Never rejects.
 */
export async function postSnapshot(
  session: http2.ClientHttp2Session,
  request: SnapshotRequest,
): Promise<boolean> {
  const { log } = request;
  let req: http2.ClientHttp2Stream;
  try {
    req = session.request({
      ":method": "POST",
      ":path": RAFT_SNAPSHOT_PATH,
      "content-type": FRAME_CONTENT_TYPE,
      ...request.headers,
    });
  } catch (err) {
    log.warn({ err }, "cannot start a snapshot request");
    return false;
  }
  let status = 0;
  const body = new ErrorBody();
  req.setTimeout(request.idleTimeoutMs, () => {
    log.warn({ idleMs: request.idleTimeoutMs }, "snapshot request idle; cancelled");
    req.close(http2.constants.NGHTTP2_CANCEL);
  });
  req.on("response", (headers) => {
    status = Number(headers[":status"]);
  });
  req.on("data", (chunk: Buffer) => body.add(chunk));
  req.on("error", (err) => log.debug({ err }, "snapshot request error"));
  const closed = new Promise<void>((resolve) => req.once("close", resolve));
  // Any answer before the end frame is a refusal (the receiver answers 200 only after it).
  const stopped = () => req.closed || req.destroyed || status !== 0;
  const [written] = await Promise.all([writeBody(req, request, stopped), closed]);
  const ok = written && status === 200;
  if (ok) log.info("snapshot sent");
  else log.warn({ status, body: body.text(), rstCode: req.rstCode }, "snapshot not accepted by peer");
  return ok;
}

/**
 * Writes the message frame, the chunks and the end frame; true when all of it was handed to the
 * stream. Cancels the request when the source fails.
 */
async function writeBody(
  req: http2.ClientHttp2Stream,
  request: SnapshotRequest,
  stopped: () => boolean,
): Promise<boolean> {
  if (!req.write(request.messageFrame)) await drained(req);
  if (stopped()) return false;
  let totalBytes = 0;
  let crc = 0;
  try {
    // for-await closes the source's iterator (return()) on every early exit below.
    for await (const chunk of request.data()) {
      if (!(chunk instanceof Uint8Array)) throw new TypeError("a snapshot data chunk is not a Uint8Array");
      for (let offset = 0; offset < chunk.byteLength; offset += MAX_SNAPSHOT_CHUNK_BYTES) {
        if (stopped()) return false;
        const piece = chunk.subarray(offset, offset + MAX_SNAPSHOT_CHUNK_BYTES);
        totalBytes += piece.byteLength;
        if (totalBytes > MAX_SNAPSHOT_DATA_BYTES) {
          throw new RangeError(`snapshot data exceeds the limit of ${MAX_SNAPSHOT_DATA_BYTES} bytes`);
        }
        crc = crc32(piece, crc);
        if (!req.write(encodeSnapshotChunk(piece))) await drained(req);
      }
    }
  } catch (err) {
    request.log.error({ err }, "cannot read the snapshot data; request cancelled");
    if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
    return false;
  }
  if (stopped()) return false;
  req.end(encodeSnapshotEnd(totalBytes, crc));
  return true;
}

/** Resolves when `req` can take more data, or has closed. */
function drained(req: http2.ClientHttp2Stream): Promise<void> {
  if (req.closed || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      req.off("drain", done);
      req.off("close", done);
      resolve();
    };
    req.on("drain", done);
    req.on("close", done);
  });
}
