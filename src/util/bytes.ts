/**
 * Byte-array helpers shared by the client API and the peer transport.
 */

/**
 * The bytes of `parts`, in order, in one new plain Uint8Array of their total length (never a
 * view into one of them or into Buffer's shared pool).
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
