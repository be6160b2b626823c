/** File storage of a data dir: WAL segments, snapshot files, metadata, lock (see layout.ts). */
export { DEFAULT_SEGMENT_BYTES, SNAPSHOT_FILES_KEPT } from "./layout.ts";
export { DataDirLockedError } from "./lock.ts";
export type { StorageLogger } from "./logger.ts";
export { FileStorage, type FileStorageOptions, openFileStorage } from "./storage.ts";
