/** src/cli/member-runtime.ts: every launcher starts members with the same Node.js flags. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MEMBER_NODE_FLAGS, memberExecArgv } from "../../../src/cli/member-runtime.ts";

describe("member runtime flags", () => {
  it("adds each member flag once to the parent's flags", () => {
    expect(memberExecArgv([])).toEqual([...MEMBER_NODE_FLAGS]);
    expect(memberExecArgv(["--import", "tsx"])).toEqual(["--import", "tsx", ...MEMBER_NODE_FLAGS]);
    expect(memberExecArgv([...MEMBER_NODE_FLAGS, "--inspect"])).toEqual([...MEMBER_NODE_FLAGS, "--inspect"]);
  });

  it("bin/cairn.mjs's shebang line carries the same flags", () => {
    const bin = readFileSync(path.resolve(import.meta.dirname, "../../../bin/cairn.mjs"), "utf8");
    const shebang = bin.split("\n")[0]!;
    expect(shebang.startsWith("#!/usr/bin/env -S node")).toBe(true);
    for (const flag of MEMBER_NODE_FLAGS) expect(shebang.split(" ")).toContain(flag);
  });
});
