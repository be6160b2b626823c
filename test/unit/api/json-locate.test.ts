/** The JSON error locator agrees with JSON.parse on validity and points at the first bad character. */
import { describe, expect, it } from "vitest";
import { lineColumn, locateJsonError } from "../../../src/api/json-locate.ts";

const valid = [
  "0",
  "-1.5e+10",
  '"a\\u00e9\\n"',
  "[]",
  "{}",
  ' { "a" : [1, {"b": null}, true, false, "x"] } ',
  "[[[[[]]]]]",
  '{"配置": "数据库"}',
];

const invalid: Array<[string, number, number]> = [
  ["", 1, 1],
  ["{", 1, 2],
  ['{"a": 1,}', 1, 9],
  ['{"a" 1}', 1, 6],
  ["[1 2]", 1, 4],
  ["[1,]", 1, 4],
  ["01", 1, 2],
  ['{"a": tru}', 1, 7],
  ['"abc', 1, 1],
  ['"a\tb"', 1, 3],
  ['"\\x"', 1, 2],
  ["{'a': 1}", 1, 2],
  ['{\n  "a": 1\n  "b": 2\n}', 3, 3],
  ["[1] [2]", 1, 5],
  ["{\n\n", 3, 1],
];

describe("locateJsonError", () => {
  it("finds no error in valid JSON", () => {
    for (const text of valid) {
      expect(() => JSON.parse(text)).not.toThrow();
      expect(locateJsonError(text), text).toBeUndefined();
    }
  });

  it("points at the first error with 1-based line and column", () => {
    for (const [text, line, column] of invalid) {
      expect(() => JSON.parse(text), text).toThrow();
      const err = locateJsonError(text);
      expect(err, text).toBeDefined();
      expect([err!.line, err!.column], text).toEqual([line, column]);
    }
  });

  it("handles deep nesting without recursion", () => {
    const deep = `${"[".repeat(200_000)}${"]".repeat(199_999)}`;
    expect(locateJsonError(deep)?.message).toContain("end of input");
    expect(locateJsonError(`${"[".repeat(200_000)}${"]".repeat(200_000)}`)).toBeUndefined();
  });

  it("lineColumn counts lines from 1", () => {
    expect(lineColumn("ab\ncd", 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn("ab\ncd", 4)).toEqual({ line: 2, column: 2 });
  });
});
