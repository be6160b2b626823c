import { describe, expect, it } from "vitest";
import { clusterIdFor, memberIdFor } from "../../../src/server/ids.ts";

/** Decimal etcd ids from etcd's own tests (server/etcdserver/api/membership/member_test.go TestMemberTime). */
const hex = (decimal: bigint): string => decimal.toString(16).padStart(16, "0");

describe("memberIdFor (etcd computeMemberId)", () => {
  it("matches etcd's test vectors", () => {
    expect(memberIdFor(["http://10.0.0.8:2379"], "")).toBe(hex(14544069596553697298n));
    expect(memberIdFor(["http://10.0.0.1:2379", "http://10.0.0.2:2379"], "")).toBe(
      hex(16552244735972308939n),
    );
  });

  it("gives etcd's well-known default member id for http://localhost:2380 and token etcd-cluster", () => {
    expect(memberIdFor(["http://localhost:2380"], "etcd-cluster")).toBe("8e9e05c52164694d");
  });

  it("is deterministic and 16 lowercase hex digits", () => {
    const a = memberIdFor(["https://127.0.0.1:2380"], "t");
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(memberIdFor(["https://127.0.0.1:2380"], "t")).toBe(a);
  });

  it("does not depend on the order of the peer URLs", () => {
    const urls = ["https://10.0.0.3:2380", "https://10.0.0.1:2380", "https://10.0.0.2:2380"];
    expect(memberIdFor(urls, "t")).toBe(memberIdFor([...urls].reverse(), "t"));
  });

  it("differs for different tokens and different URLs", () => {
    const base = memberIdFor(["https://127.0.0.1:2380"], "a");
    expect(memberIdFor(["https://127.0.0.1:2380"], "b")).not.toBe(base);
    expect(memberIdFor(["https://127.0.0.1:2381"], "a")).not.toBe(base);
  });

  it("rejects an empty URL list", () => {
    expect(() => memberIdFor([], "t")).toThrow(/at least one peer URL/);
  });
});

describe("clusterIdFor (etcd RaftCluster.genID)", () => {
  it("gives etcd's well-known default cluster id", () => {
    expect(clusterIdFor(["8e9e05c52164694d"])).toBe("cdf818194e3a8c32");
  });

  it("does not depend on the order of the member ids", () => {
    const ids = ["00000000000000ff", "8e9e05c52164694d", "0100000000000000"];
    expect(clusterIdFor(ids)).toBe(clusterIdFor([...ids].reverse()));
    expect(clusterIdFor(ids)).toMatch(/^[0-9a-f]{16}$/);
  });

  it("differs for different member sets", () => {
    expect(clusterIdFor(["0000000000000001", "0000000000000002"])).not.toBe(
      clusterIdFor(["0000000000000001", "0000000000000003"]),
    );
  });

  it("rejects ids that are not 16 lowercase hex digits", () => {
    expect(() => clusterIdFor(["ABC"])).toThrow(/16 lowercase hex/);
    expect(() => clusterIdFor([])).toThrow(/at least one member/);
  });
});
