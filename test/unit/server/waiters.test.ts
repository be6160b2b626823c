import { describe, expect, it } from "vitest";
import { WAIT_SWEEP_INTERVAL_MS, WaitRegistry } from "../../../src/server/waiters.ts";
import { CairnError } from "../../../src/util/errors.ts";

describe("WaitRegistry", () => {
  it("resolves and rejects a waiter by id, once", async () => {
    const r = new WaitRegistry<string>();
    const a = r.wait(1, 5_000, "timed out");
    const b = r.wait(2, 5_000, "timed out");
    r.resolve(1, "one");
    r.reject(2, new Error("two"));
    r.resolve(2, "ignored");
    await expect(a).resolves.toBe("one");
    await expect(b).rejects.toThrow("two");
    expect(r.size).toBe(0);
    r.rejectAll(new Error("stop"));
    expect(r.sweeping).toBe(false);
  });

  it("times a waiter out after its deadline, not before, and stops sweeping when none is left", async () => {
    const r = new WaitRegistry<string>();
    const started = performance.now();
    const late = r.wait(1, 150, "etcdserver: request timed out");
    const kept = r.wait(2, 60_000, "never");
    const err = await late.catch((e: unknown) => e);
    const waitedMs = performance.now() - started;
    expect(err).toBeInstanceOf(CairnError);
    expect((err as CairnError).code).toBe("timeout");
    expect((err as CairnError).message).toBe("etcdserver: request timed out");
    expect(waitedMs).toBeGreaterThanOrEqual(150);
    expect(waitedMs).toBeLessThan(150 + 10 * WAIT_SWEEP_INTERVAL_MS);
    expect(r.has(2)).toBe(true);
    expect(r.sweeping).toBe(true);
    r.resolve(2, "done");
    await expect(kept).resolves.toBe("done");
    await new Promise((resolve) => setTimeout(resolve, 2 * WAIT_SWEEP_INTERVAL_MS + 20));
    expect(r.sweeping).toBe(false);
  });
});
