/** Runs the RaftStorage contract on the memory storage and on the file storage (default and tiny WAL segments). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type FileStorage, openFileStorage } from "../../src/storage/file/index.ts";
import { MemoryStorage } from "../../src/storage/memory.ts";
import { runStorageContract } from "./storage.contract.ts";

runStorageContract("memory", async () => {
  let current = new MemoryStorage();
  return {
    storage: current,
    reopen: async () => (current = current.reopen()),
    cleanup: () => current.close(),
  };
});

function fileHarness(segmentBytes?: number) {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-storage-contract-"));
    const warnings: string[] = [];
    // Normal operation must not need any recovery: every warning fails the test at cleanup.
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
    const handles: FileStorage[] = [];
    const open = async () => {
      const s = await openFileStorage(dir, { logger, ...(segmentBytes ? { segmentBytes } : {}) });
      handles.push(s);
      return s;
    };
    return {
      storage: await open(),
      reopen: open,
      cleanup: async () => {
        for (const s of handles) await s.close();
        await rm(dir, { recursive: true, force: true });
        if (warnings.length > 0) throw new Error(`file storage logged warnings: ${warnings.join("")}`);
      },
    };
  };
}

runStorageContract("file", fileHarness());
runStorageContract("file with 256-byte WAL segments", fileHarness(256));
