/**
 * Regression seeds of the KV simulation (regression-seeds.ts): each once failed and must pass now.
 * Runs on every test run, whatever SIM_SEED / SIM_SEEDS say.
 */
import { describe, it } from "vitest";
import { REGRESSION_SEEDS } from "./regression-seeds.ts";
import { runSeed } from "./run.ts";

describe("KV simulation regression seeds", () => {
  it.each(REGRESSION_SEEDS)(
    "seed $seed ($note)",
    ({ seed, overrides }) => {
      runSeed(seed, { overrides: overrides ?? {} });
    },
    120_000,
  );
});
