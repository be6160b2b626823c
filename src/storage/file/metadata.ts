/** `member/meta.json`: the ClusterMetadata of a data dir, replaced atomically. */
import { readFile } from "node:fs/promises";
import { type ClusterMetadata, StorageCorruptError } from "../types.ts";
import { isErrno, writeFileAtomic } from "./fsutil.ts";

/**
 * Reads the metadata file, or null when it does not exist.
 * @throws StorageCorruptError when it is not JSON with string clusterId, memberId and name
 */
export async function readMetadataFile(path: string): Promise<ClusterMetadata | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    throw err;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new StorageCorruptError(`metadata file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const m = v as Partial<Record<keyof ClusterMetadata, unknown>> | null;
  if (
    typeof m !== "object" ||
    m === null ||
    typeof m.clusterId !== "string" ||
    typeof m.memberId !== "string" ||
    typeof m.name !== "string"
  ) {
    throw new StorageCorruptError(`metadata file ${path} lacks string clusterId, memberId and name`);
  }
  const meta: ClusterMetadata = { clusterId: m.clusterId, memberId: m.memberId, name: m.name };
  if (m.removed === true) meta.removed = true;
  return meta;
}

/** Durably replaces the metadata file (temp file, fsync, rename, fsync of `dir`). */
export async function writeMetadataFile(path: string, dir: string, meta: ClusterMetadata): Promise<void> {
  const { clusterId, memberId, name, removed } = meta;
  const json = `${JSON.stringify({ clusterId, memberId, name, ...(removed ? { removed } : {}) }, null, 2)}\n`;
  await writeFileAtomic(path, dir, [Buffer.from(json, "utf8")]);
}
