import { describe, expect, it } from "vitest";
import { AssertionError, assert } from "../../../src/util/assert.ts";

describe("assert", () => {
  it("passes a true condition without formatting anything", () => {
    const detail = {
      toString() {
        throw new Error("formatted on the happy path");
      },
    };
    expect(() => assert(true, "never %s", detail)).not.toThrow();
  });

  it("throws an AssertionError with each %s replaced by the next value", () => {
    expect(() => assert(1 > 2, "log: commit %s beyond last index %s (%s)", 7, 5, "x")).toThrow(
      new AssertionError("log: commit 7 beyond last index 5 (x)"),
    );
  });

  it("prints undefined for a placeholder without a value, and keeps a message without placeholders", () => {
    expect(() => assert(false, "a %s b %s", 1)).toThrow("a 1 b undefined");
    expect(() => assert(0, "plain message")).toThrow("plain message");
  });
});
