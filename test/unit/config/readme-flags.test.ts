/** The README's flag table is the one generated from the flag definitions (one source of truth). */
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { formatServeFlagsMarkdown } from "../../../src/server/config.ts";

it("README.md holds the current flag table of cairn serve", () => {
  const readme = readFileSync(path.resolve(import.meta.dirname, "../../../README.md"), "utf8");
  expect(readme).toContain(formatServeFlagsMarkdown().trim());
});
