/**
 * Known src/ bugs found by the KV simulation (known-issues.ts) still reproduce in strict mode.
 * These tests document the bugs; one turns red when its bug is fixed: then delete the issue from
 * known-issues.ts (and its avoidance), and move its seed to regression-seeds.ts.
 */
import { describe, expect, it } from "vitest";
import { KNOWN_ISSUES } from "./known-issues.ts";
import { runSeed, SimFailure } from "./run.ts";

describe("known src/ issues found by the KV simulation", () => {
  it.each(KNOWN_ISSUES)(
    "$id reproduces on seed $seed in strict mode: $summary",
    (issue) => {
      let failure: SimFailure | undefined;
      try {
        runSeed(issue.seed, { strict: true, overrides: issue.overrides ?? {} });
      } catch (err) {
        if (!(err instanceof SimFailure)) throw err;
        failure = err;
      }
      expect(failure, `${issue.id} no longer reproduces on seed ${issue.seed}: fixed?`).toBeDefined();
      expect(failure!.message).toMatch(issue.signature);
    },
    120_000,
  );
});
