/** Storage of one member: the interfaces and the memory and file implementations. */
export { DataDirLockedError, FileStorage, type FileStorageOptions, openFileStorage } from "./file/index.ts";
export type { StorageLogger } from "./file/logger.ts";
export { MemoryStorage } from "./memory.ts";
export {
  type ClusterMetadata,
  type PersistedState,
  type RaftStorage,
  StorageCorruptError,
} from "./types.ts";
