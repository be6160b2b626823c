/** The logger the file storage reports recoveries to: any pino-compatible logger fits. */
import pino from "pino";

/** The subset of pino's Logger the storage uses (`logger.warn({file, offset}, "message")`). */
export interface StorageLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** A pino logger writing JSON lines to stderr, used when the caller gives none. */
export function defaultStorageLogger(): StorageLogger {
  return pino({ name: "cairn-storage" }, pino.destination({ fd: 2, sync: true }));
}
