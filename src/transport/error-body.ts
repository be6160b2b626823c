/** The first bytes of an HTTP/2 answer body, kept for log lines and error messages. */

/** Most bytes of an error answer body kept. */
const MAX_ERROR_BODY_BYTES = 1024;

/** Collects at most the first 1 KiB of a body (the rest is dropped). */
export class ErrorBody {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  /** Keeps the part of `chunk` that still fits (copied). */
  add(chunk: Buffer): void {
    if (this.bytes >= MAX_ERROR_BODY_BYTES) return;
    const part = chunk.subarray(0, MAX_ERROR_BODY_BYTES - this.bytes);
    this.chunks.push(Buffer.from(part));
    this.bytes += part.byteLength;
  }

  /** The kept bytes as trimmed UTF-8 text. */
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8").trim();
  }
}
