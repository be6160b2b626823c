/**
 * --auto-compaction-mode and --auto-compaction-retention (etcd's flags and etcd's reading of the
 * retention: a plain integer is hours in periodic mode and revisions in revision mode, otherwise a
 * Go duration; 0 turns compaction off), and their environment variables.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseGoDurationMs, parseServeConfig } from "../../../src/server/config.ts";

let dir = "";
let tls: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cairn-autocompact-"));
  for (const f of ["cert.pem", "key.pem", "ca.pem"]) writeFileSync(join(dir, f), "-----BEGIN X-----\n");
  tls = [
    `--peer-cert-file=${join(dir, "cert.pem")}`,
    `--peer-key-file=${join(dir, "key.pem")}`,
    `--peer-trusted-ca-file=${join(dir, "ca.pem")}`,
  ];
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const parse = (argv: string[], env: Record<string, string> = {}) => parseServeConfig([...tls, ...argv], env);

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

describe("auto compaction flags", () => {
  it("is off by default and with retention 0", () => {
    expect(parse([]).autoCompaction).toBeNull();
    expect(parse(["--auto-compaction-retention=0"]).autoCompaction).toBeNull();
    expect(
      parse(["--auto-compaction-mode=revision", "--auto-compaction-retention=0"]).autoCompaction,
    ).toBeNull();
  });

  it("periodic (the default mode): an integer is hours, a Go duration is taken as is", () => {
    expect(parse(["--auto-compaction-retention=1"]).autoCompaction).toEqual({
      mode: "periodic",
      retentionMs: 3_600_000,
    });
    expect(parse(["--auto-compaction-retention", "30m"]).autoCompaction).toEqual({
      mode: "periodic",
      retentionMs: 1_800_000,
    });
    expect(
      parse(["--auto-compaction-mode=periodic", "--auto-compaction-retention=1h30m"]).autoCompaction,
    ).toEqual({
      mode: "periodic",
      retentionMs: 5_400_000,
    });
  });

  it("revision: an integer is a number of revisions; a duration is refused", () => {
    expect(
      parse(["--auto-compaction-mode=revision", "--auto-compaction-retention=1000"]).autoCompaction,
    ).toEqual({
      mode: "revision",
      retention: 1000,
    });
    expect(
      configError(() => parse(["--auto-compaction-mode=revision", "--auto-compaction-retention=1h"])),
    ).toMatch(
      /^--auto-compaction-retention: with --auto-compaction-mode revision, expected a number of revisions/,
    );
  });

  it("refuses an unknown mode and a retention that is neither a number nor a duration", () => {
    expect(configError(() => parse(["--auto-compaction-mode=hourly"]))).toBe(
      "--auto-compaction-mode: expected 'periodic' or 'revision', got 'hourly'",
    );
    expect(configError(() => parse(["--auto-compaction-retention=-1"]))).toMatch(
      /^--auto-compaction-retention: /,
    );
    expect(configError(() => parse(["--auto-compaction-retention=soon"]))).toMatch(
      /^--auto-compaction-retention: /,
    );
  });

  it("reads CAIRN_AUTO_COMPACTION_MODE / _RETENTION; a flag wins over its variable", () => {
    expect(
      parse([], { CAIRN_AUTO_COMPACTION_MODE: "revision", CAIRN_AUTO_COMPACTION_RETENTION: "50" })
        .autoCompaction,
    ).toEqual({ mode: "revision", retention: 50 });
    const c = parse(["--auto-compaction-retention=2"], { CAIRN_AUTO_COMPACTION_RETENTION: "5" });
    expect(c.autoCompaction).toEqual({ mode: "periodic", retentionMs: 7_200_000 });
    expect(c.warnings).toEqual([
      "environment variable CAIRN_AUTO_COMPACTION_RETENTION is shadowed by the flag --auto-compaction-retention",
    ]);
    expect(configError(() => parse([], { CAIRN_AUTO_COMPACTION_RETENTION: "x" }))).toMatch(
      /^--auto-compaction-retention \(from CAIRN_AUTO_COMPACTION_RETENTION\): /,
    );
  });
});

describe("parseGoDurationMs (Go time.ParseDuration)", () => {
  it.each([
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["90s", 90_000],
    ["300ms", 300],
    [".5m", 30_000],
    ["0", 0],
  ])("%s → %d ms", (text, ms) => {
    expect(parseGoDurationMs(text)).toBe(ms);
  });

  it.each(["", "h", "10", "1x", "-1h", "1h 30m"])("refuses %j", (text) => {
    expect(parseGoDurationMs(text)).toBeUndefined();
  });
});
