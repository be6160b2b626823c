/**
 * The outside world of one CLI run: output streams, stdin and environment. Passed in so that
 * the CLI runs in-process in tests exactly as it runs from a shell.
 */

/** Where the CLI writes and reads. */
export interface CliIo {
  /** Writes to standard output (text or raw value bytes). */
  stdout(chunk: string | Uint8Array): void;
  /** Writes to standard error. */
  stderr(chunk: string): void;
  /** Reads standard input to its end (used when a value or txn request is not given as an argument). */
  readStdin(): Promise<Uint8Array>;
  /** Environment variables (CAIRN_ENDPOINTS, CAIRN_COMMAND_TIMEOUT). */
  env: Record<string, string | undefined>;
  /**
   * Ends long-running commands (`lease keep-alive` without --once) when it aborts; absent for the
   * real process, which Ctrl-C ends.
   */
  signal?: AbortSignal;
}

/** Reads a readable stream to its end. */
async function readAll(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** The real process: process.stdout, process.stderr, process.stdin, process.env. */
export function processIo(): CliIo {
  return {
    stdout: (chunk) => process.stdout.write(chunk),
    stderr: (chunk) => process.stderr.write(chunk),
    readStdin: () => readAll(process.stdin),
    env: process.env,
  };
}

/** An in-memory CliIo for tests and embedding: collects output, serves `stdin` bytes. */
export interface MemoryIo extends CliIo {
  /** Everything written to stdout, decoded as UTF-8. */
  out(): string;
  /** Raw bytes written to stdout. */
  outBytes(): Buffer;
  /** Everything written to stderr. */
  err(): string;
}

/** Creates a {@link MemoryIo} with the given stdin content and environment. */
export function memoryIo(
  stdin: string | Uint8Array = "",
  env: Record<string, string | undefined> = {},
  signal?: AbortSignal,
): MemoryIo {
  const out: Buffer[] = [];
  let err = "";
  return {
    stdout: (chunk) => {
      out.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
    },
    stderr: (chunk) => {
      err += chunk;
    },
    readStdin: async () => (typeof stdin === "string" ? Buffer.from(stdin) : stdin),
    env,
    ...(signal ? { signal } : {}),
    out: () => Buffer.concat(out).toString("utf8"),
    outBytes: () => Buffer.concat(out),
    err: () => err,
  };
}
