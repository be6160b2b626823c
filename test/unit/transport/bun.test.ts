import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
/** Bun is a devDependency (DESIGN.md: every node also runs under Bun). */
const bun = join(root, "node_modules", ".bin", "bun");

describe("peer transport under Bun", () => {
  it("exchanges messages and snapshots (inline, streamed) over mutual TLS, refuses a client without a certificate", async () => {
    const { stdout } = await promisify(execFile)(bun, [join(import.meta.dirname, "bun-exchange.ts")], {
      cwd: root,
      timeout: 30_000,
    });
    expect(JSON.parse(stdout.trim().split("\n").pop()!)).toStrictEqual({
      inOrder: true,
      snapshots: [true, true],
      streamed: { bytes: 12 * 1024 * 1024, intact: true, staged: 1 },
      noCertStatus: null,
      probe: "c",
    });
  });
});
