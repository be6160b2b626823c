/**
 * The nemesis: injects one fault at a time into a {@link TestCluster} of real `cairn serve`
 * processes, heals it, waits for the cluster to have a leader again, and goes on, cycling through
 * every {@link FaultKind} in a seeded order:
 *
 * - `kill`: kill -9 a member (every other time the leader), keep it down 1-3 s, restart it.
 * - `pause`: SIGSTOP a member (every other time the leader) for 1.5-4 s, then SIGCONT.
 * - `partition`: cut a member (every other time the leader) from every other member, both ways.
 * - `partition-out`: asymmetric; the member's messages to the others are lost, theirs reach it.
 * - `partition-in`: asymmetric; the others' messages to the member are lost, its own get through.
 * - `partition-halves`: two members (one of them the leader every other time) against three.
 * - `membership`: remove a member (every other time the leader) through the API; once it has
 *   stopped, add a new member (fresh name, ports and data dir) as a learner, start it with
 *   --initial-cluster-state existing, and promote it once the leader accepts it as caught up (a
 *   learner not promoted within 45 s is a problem; it is removed and killed again, and the next
 *   membership fault then only adds, so the cluster keeps its size).
 *
 * Partitions use the transport's test failpoints (src/transport/failpoints.ts): every member is
 * started with CAIRN_TEST_FAILPOINTS_FILE naming its own file in the cluster's temp dir, and a
 * partition is a set of blocked directed links written to those files (each link is blocked at
 * both ends, so either end's rules alone suffice). Times are `performance.now()` ms.
 */
import { renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FAILPOINTS_FILE_ENV } from "../../src/transport/failpoints.ts";
import type { TestCluster, TestMember } from "../helpers/cluster.ts";
import type { Rng } from "../sim/rng.ts";
import { errorCode, type HttpClient } from "./http.ts";

/** The kinds of fault, in the order of the module comment. */
export const FAULT_KINDS = [
  "kill",
  "pause",
  "partition",
  "partition-out",
  "partition-in",
  "partition-halves",
  "membership",
] as const;

/** A kind of fault the nemesis injects. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A new leader after a fault that hit the leader. */
export interface LeaderChange {
  /** The fault, e.g. "kill". */
  kind: FaultKind;
  /** ms from the fault to a member reporting itself leader of a later term; null: none within the fault. */
  ms: number | null;
  /**
   * Partitions only: ms from the fault until the old leader no longer says it leads (it stepped
   * down: CheckQuorum or a higher term); null: it still did when the partition healed.
   */
  stepDownMs?: number | null;
}

/** The /v1/status fields the nemesis reads. */
export interface MemberStatus {
  member_id: string;
  leader: string;
  is_leader: boolean;
  is_learner: boolean;
  raft_term: number;
  raft_index: number;
  commit_index: number;
  applied_index: number;
}

/** Options of a {@link Nemesis}. */
export interface NemesisOptions {
  /** The schedule's randomness: order of kinds, targets, durations. */
  rng: Rng;
  http: HttpClient;
  /** Directory for the members' failpoint files (created by the caller). */
  failpointsDir: string;
  /** Start time of the run (`performance.now()`), for the log's relative times. */
  t0: number;
  /** Also called with each log line as it happens (progress output); optional. */
  onLog?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Longest wait for the cluster to agree on a leader after a fault is healed (ms). */
const RECOVERY_TIMEOUT_MS = 30_000;
/** Longest wait for a restarted or new member to answer /v1/status (ms). */
const START_TIMEOUT_MS = 45_000;
/** Longest time a membership request is retried (503 / 409 conf_change_pending) (ms). */
const MEMBERSHIP_RETRY_MS = 30_000;
/** Longest wait for a new learner to be accepted for promotion (ms). */
const PROMOTE_TIMEOUT_MS = 45_000;
/** Longest hold of a partition of the leader while no new leader is seen (ms). */
const LEADER_PARTITION_MAX_MS = 8_000;
/** Longest wait for a removed member to stop by itself before it is killed (ms). */
const REMOVED_EXIT_TIMEOUT_MS = 15_000;

/** Injects faults one at a time; see the module comment. */
export class Nemesis {
  /** Faults injected, by kind. */
  readonly faults: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<
    FaultKind,
    number
  >;
  /** One entry per fault that hit the leader. */
  readonly leaderChanges: LeaderChange[] = [];
  /** Problems noticed on the way (a member that did not start, no leader after healing, ...). */
  readonly problems: string[] = [];
  /** The log: one line per event, with the time since the start of the run. */
  readonly log: string[] = [];
  /** Every member the cluster ever had, removed ones included (for stderr tails). */
  readonly everyMember: TestMember[];

  private readonly ids = new Map<TestMember, string>();
  private readonly joinedAtRuntime = new Set<TestMember>();
  private readonly paused = new Set<TestMember>();
  private readonly occurrences = new Map<FaultKind, number>();
  private readonly leaderFirst = new Map<FaultKind, boolean>();
  private nextMemberNo: number;
  private readonly initialSize: number;

  constructor(
    private readonly cluster: TestCluster,
    private readonly opts: NemesisOptions,
  ) {
    this.nextMemberNo = cluster.members.length + 1;
    this.initialSize = cluster.members.length;
    this.everyMember = [...cluster.members];
    for (const kind of FAULT_KINDS) this.leaderFirst.set(kind, kind === "kill" || opts.rng.chance(0.5));
  }

  /** Writes a log line (time since the run started). */
  note(text: string): void {
    const line = `+${((performance.now() - this.opts.t0) / 1000).toFixed(3)}s ${text}`;
    this.log.push(line);
    this.opts.onLog?.(line);
  }

  /** Gives every member a failpoints file (empty rules) and its environment variable. Before starting them. */
  prepare(): void {
    for (const m of this.cluster.members) this.attachFailpoints(m);
  }

  /** Client URLs of the current members (removed ones excluded). */
  endpoints(): string[] {
    return this.cluster.members.map((m) => m.clientUrl);
  }

  /** Learns every member's id from its status. @throws Error when a member does not answer within 30 s */
  async learnIds(): Promise<void> {
    for (const m of this.cluster.members) {
      if (this.ids.has(m)) continue;
      const deadline = performance.now() + 30_000;
      for (;;) {
        const s = await this.status(m);
        if (s) {
          this.ids.set(m, s.member_id);
          break;
        }
        if (performance.now() > deadline) throw new Error(`${m.name} does not answer /v1/status`);
        await sleep(100);
      }
    }
  }

  /**
   * Runs faults until `deadline` (`performance.now()` ms; no fault starts after it), until
   * `maxCycles` full cycles of every kind are done, or until `signal` aborts. Each fault is healed
   * before the next.
   */
  async run(deadline: number, maxCycles = Number.POSITIVE_INFINITY, signal?: AbortSignal): Promise<void> {
    for (let cycle = 0; cycle < maxCycles; cycle++) {
      const order = shuffle([...FAULT_KINDS], this.opts.rng);
      this.note(`cycle ${cycle + 1}: ${order.join(", ")}`);
      for (const kind of order) {
        if (performance.now() >= deadline || signal?.aborted) return;
        await this.inject(kind);
        await this.recover();
        await sleep(this.opts.rng.int(500, 1500));
      }
    }
  }

  /** Ends every fault: heals partitions, continues paused members, starts stopped ones. */
  async healAll(): Promise<void> {
    this.writePartition([]);
    for (const m of [...this.paused]) this.cont(m);
    for (const m of this.cluster.members) {
      if (!m.process) await this.restart(m);
    }
  }

  /** Status of a member, or null when it does not answer within `timeoutMs`. */
  async status(m: TestMember, timeoutMs = 1_000): Promise<MemberStatus | null> {
    const r = await this.opts.http.request({
      method: "GET",
      baseUrl: m.clientUrl,
      path: "/v1/status",
      timeoutMs,
    });
    if (r.kind !== "response" || r.status !== 200) return null;
    try {
      return JSON.parse(r.body) as MemberStatus;
    } catch {
      return null;
    }
  }

  /** The member every answering member names as leader, with its term; null when they do not agree. */
  async leader(): Promise<{ member: TestMember; id: string; term: number } | null> {
    const members = this.cluster.members.filter((m) => m.process && !this.paused.has(m));
    const statuses = await Promise.all(members.map((m) => this.status(m)));
    let self = -1;
    statuses.forEach((s, i) => {
      if (s?.is_leader && (self < 0 || s.raft_term > statuses[self]!.raft_term)) self = i;
    });
    if (self < 0) return null;
    const s = statuses[self]!;
    const agree = statuses.filter((x) => x?.leader === s.member_id).length;
    if (agree * 2 <= members.length) return null;
    return { member: members[self]!, id: s.member_id, term: s.raft_term };
  }

  // ---- faults -----------------------------------------------------------------------------------

  private async inject(kind: FaultKind): Promise<void> {
    const n = this.occurrences.get(kind) ?? 0;
    this.occurrences.set(kind, n + 1);
    const wantLeader = (n % 2 === 0) === this.leaderFirst.get(kind);
    const leader = await this.leader();
    const candidates = this.cluster.members.filter((m) => m.process);
    let target: TestMember;
    if (wantLeader && leader) target = leader.member;
    else {
      const others = candidates.filter((m) => m !== leader?.member);
      target = this.opts.rng.pick(others.length > 0 ? others : candidates);
    }
    const isLeader = leader?.member === target;
    const who = `${target.name}${isLeader ? " (leader)" : ""}`;
    this.faults[kind]++;
    switch (kind) {
      case "kill":
        return this.kill(target, who, isLeader ? leader : null);
      case "pause":
        return this.pause(target, who, isLeader ? leader : null);
      case "partition":
      case "partition-out":
      case "partition-in":
      case "partition-halves":
        return this.partition(kind, target, who, isLeader ? leader : null);
      case "membership":
        return this.membership(target, who, isLeader ? leader : null);
    }
  }

  private async kill(m: TestMember, who: string, leader: { id: string; term: number } | null): Promise<void> {
    const t0 = performance.now();
    await this.cluster.kill(m, "SIGKILL");
    this.note(`kill -9 ${who}`);
    const downMs = this.opts.rng.int(1_000, 3_000);
    if (leader) {
      const ms = await this.timeToNewLeader(leader, t0, t0 + 15_000);
      this.leaderChanges.push({ kind: "kill", ms });
      this.note(ms === null ? "no new leader within 15 s" : `new leader after ${ms.toFixed(0)} ms`);
    }
    await sleep(Math.max(0, t0 + downMs - performance.now()));
    await this.restart(m);
  }

  private async pause(
    m: TestMember,
    who: string,
    leader: { id: string; term: number } | null,
  ): Promise<void> {
    const p = m.process;
    if (!p) return;
    const t0 = performance.now();
    p.kill("SIGSTOP");
    this.paused.add(m);
    const holdMs = this.opts.rng.int(1_500, 4_000);
    this.note(`SIGSTOP ${who} for ${holdMs} ms`);
    if (leader) {
      const ms = await this.timeToNewLeader(leader, t0, t0 + holdMs);
      this.leaderChanges.push({ kind: "pause", ms });
      this.note(ms === null ? "no new leader during the pause" : `new leader after ${ms.toFixed(0)} ms`);
    }
    await sleep(Math.max(0, t0 + holdMs - performance.now()));
    this.cont(m);
  }

  private cont(m: TestMember): void {
    m.process?.kill("SIGCONT");
    this.paused.delete(m);
    this.note(`SIGCONT ${m.name}`);
  }

  private async partition(
    kind: "partition" | "partition-out" | "partition-in" | "partition-halves",
    m: TestMember,
    who: string,
    leader: { id: string; term: number } | null,
  ): Promise<void> {
    const everyone = this.cluster.members.filter((x) => this.ids.has(x));
    let side = [m];
    if (kind === "partition-halves") {
      const others = everyone.filter((x) => x !== m);
      side = [m, this.opts.rng.pick(others)];
    }
    const rest = everyone.filter((x) => !side.includes(x));
    const links: [TestMember, TestMember][] = [];
    for (const a of side) {
      for (const b of rest) {
        if (kind !== "partition-in") links.push([a, b]); // a's messages to b are lost
        if (kind !== "partition-out") links.push([b, a]); // b's messages to a are lost
      }
    }
    const holdMs = this.opts.rng.int(2_000, 4_000);
    const t0 = performance.now();
    this.writePartition(links);
    const shape =
      kind === "partition-halves"
        ? `{${side.map((x) => x.name).join(",")}} | {${rest.map((x) => x.name).join(",")}}`
        : kind === "partition"
          ? `${who} | rest, both ways`
          : kind === "partition-out"
            ? `${who} cannot send to the rest`
            : `${who} cannot hear the rest`;
    this.note(`${kind} ${shape} for ${holdMs} ms`);
    if (leader) {
      // Held until a new leader is seen (at most LEADER_PARTITION_MAX_MS), so that it is measured.
      const until = t0 + Math.max(holdMs, LEADER_PARTITION_MAX_MS);
      const [ms, stepDownMs] = await Promise.all([
        this.timeToNewLeader(leader, t0, until),
        this.timeToStepDown(m, t0, until),
      ]);
      this.leaderChanges.push({ kind, ms, stepDownMs });
      this.note(
        `${ms === null ? "no new leader during the partition" : `new leader after ${ms.toFixed(0)} ms`}; ` +
          `old leader ${stepDownMs === null ? "still leads" : `stepped down after ${stepDownMs.toFixed(0)} ms`}`,
      );
    }
    await sleep(Math.max(0, t0 + holdMs - performance.now()));
    this.writePartition([]);
    this.note("healed");
  }

  /**
   * Removes `m` and adds a fresh member in its place. When the cluster is already smaller than it
   * started (an earlier addition failed), only adds, so that it does not shrink run after run.
   */
  private async membership(
    m: TestMember,
    who: string,
    old: { id: string; term: number } | null,
  ): Promise<void> {
    if (this.cluster.members.length >= this.initialSize && !(await this.removeMember(m, who, old))) return;
    await this.addMember();
  }

  /** Removes `m` through the API and waits for it to stop (kills it after a while). */
  private async removeMember(
    m: TestMember,
    who: string,
    old: { id: string; term: number } | null,
  ): Promise<boolean> {
    const id = this.ids.get(m);
    if (!id) return false;
    this.note(`membership: remove ${who} (${id})`);
    const t0 = performance.now();
    const via = () => this.opts.rng.pick(this.cluster.members.filter((x) => x !== m && x.process));
    const removed = await this.membershipRequest(
      "remove",
      via,
      "DELETE",
      `/v1/cluster/members/${id}`,
      (s, code) => (s === 404 && code === "member_not_found" ? "done" : undefined),
    );
    if (!removed) return false;
    if (old) {
      const ms = await this.timeToNewLeader(old, t0, t0 + 15_000);
      this.leaderChanges.push({ kind: "membership", ms });
      this.note(ms === null ? "no new leader within 15 s" : `new leader after ${ms.toFixed(0)} ms`);
    }
    const exited = await Promise.race([
      m.exited?.then(() => true),
      sleep(REMOVED_EXIT_TIMEOUT_MS).then(() => false),
    ]);
    if (!exited && m.process) {
      this.problems.push(`removed member ${m.name} did not stop within ${REMOVED_EXIT_TIMEOUT_MS} ms`);
      this.note(`${m.name} still runs after its removal; killing it`);
      await this.cluster.kill(m, "SIGKILL");
    } else {
      this.note(`${m.name} stopped after its removal: ${lastLine(m.stderr)}`);
    }
    this.forget(m);
    return true;
  }

  /** Drops a removed member from the cluster's list (its process has exited). */
  private forget(m: TestMember): void {
    const i = this.cluster.members.indexOf(m);
    if (i >= 0) this.cluster.members.splice(i, 1);
    this.ids.delete(m);
    this.joinedAtRuntime.delete(m);
    this.writePartition([]); // the remaining members' files no longer name it
  }

  /**
   * Adds a fresh member as a learner, starts it with --initial-cluster-state existing and promotes
   * it once the leader accepts it as caught up. A learner that is not promoted in time is a
   * problem; it is then removed and killed, so that later faults see a cluster of voters.
   */
  private async addMember(): Promise<void> {
    const fresh = await this.cluster.defineMember(`m${this.nextMemberNo++}`);
    this.everyMember.push(fresh);
    this.attachFailpoints(fresh);
    this.note(`membership: add ${fresh.name} as a learner (${fresh.peerUrl})`);
    let newId: string | undefined;
    const added = await this.membershipRequest(
      "add",
      () => this.opts.rng.pick(this.cluster.members.filter((x) => x !== fresh && x.process)),
      "POST",
      "/v1/cluster/members",
      (status, code, body) => {
        if (status === 201) {
          newId = (JSON.parse(body) as { member: { id: string } }).member.id;
          return "done";
        }
        if (status === 409 && code === "member_exists") return "done"; // an earlier attempt went through
        return undefined;
      },
      { peer_urls: [fresh.peerUrl], is_learner: true },
    );
    if (!added) {
      this.forget(fresh);
      return;
    }
    newId ??= await this.idByPeerUrl(fresh.peerUrl);
    if (!newId) {
      this.problems.push(`added member ${fresh.name} is not in the member list`);
      this.forget(fresh);
      return;
    }
    this.ids.set(fresh, newId);
    this.joinedAtRuntime.add(fresh);
    const startedAt = performance.now();
    this.cluster.start(fresh, "existing");
    if (!(await this.waitAnswering(fresh))) {
      await this.giveUpOn(fresh, newId);
      return;
    }
    this.note(`${fresh.name} (${newId}) started; promoting once caught up`);
    const deadline = performance.now() + PROMOTE_TIMEOUT_MS;
    for (;;) {
      const target = this.opts.rng.pick(this.cluster.members.filter((x) => x.process));
      const r = await this.opts.http.request({
        method: "POST",
        baseUrl: target.clientUrl,
        path: `/v1/cluster/members/${newId}/promote`,
        timeoutMs: 10_000,
      });
      if (r.kind === "response" && r.status === 200) {
        this.note(
          `${fresh.name} promoted to voter ${((performance.now() - startedAt) / 1000).toFixed(1)} s after its start`,
        );
        return;
      }
      const why = r.kind === "response" ? `${r.status} ${errorCode(r) || r.body.slice(0, 200)}` : r.code;
      if (r.kind === "response" && r.status === 409 && /is a voter/.test(r.body)) {
        this.note(`${fresh.name} is already a voter`);
        return;
      }
      if (performance.now() > deadline) {
        const status = await this.status(fresh);
        const leader = await this.leader();
        const detail =
          `its applied index ${status?.applied_index ?? "?"}, the leader ${leader?.member.name ?? "?"}` +
          `${leader && this.joinedAtRuntime.has(leader.member) ? " (itself added at runtime)" : ""}`;
        this.problems.push(
          `learner ${fresh.name} not promoted within ${PROMOTE_TIMEOUT_MS} ms (last: ${why}; ${detail})`,
        );
        this.note(`promotion of ${fresh.name} gave up: ${why}; ${detail}`);
        await this.giveUpOn(fresh, newId);
        return;
      }
      await sleep(300);
    }
  }

  /** Removes a member that did not start or catch up, and kills it. */
  private async giveUpOn(m: TestMember, id: string): Promise<void> {
    this.note(`removing ${m.name} (${id}) again and killing it`);
    await this.membershipRequest(
      "remove (cleanup)",
      () => this.opts.rng.pick(this.cluster.members.filter((x) => x !== m && x.process)),
      "DELETE",
      `/v1/cluster/members/${id}`,
      (s, code) => (s === 404 && code === "member_not_found" ? "done" : undefined),
    );
    await this.cluster.kill(m, "SIGKILL");
    this.forget(m);
  }

  /**
   * Sends a membership request to a member `via()` picks, retrying 503s and 409 conf_change_pending
   * until MEMBERSHIP_RETRY_MS. `decide` says "done" for answers that complete it (besides 200).
   * @returns false (with a problem recorded) when it could not be done
   */
  private async membershipRequest(
    what: string,
    via: () => TestMember,
    method: "POST" | "DELETE",
    urlPath: string,
    decide: (status: number, code: string, body: string) => "done" | undefined,
    body?: unknown,
  ): Promise<boolean> {
    const deadline = performance.now() + MEMBERSHIP_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      const target = via();
      const r = await this.opts.http.request({
        method,
        baseUrl: target.clientUrl,
        path: urlPath,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: 15_000,
      });
      if (r.kind === "response") {
        const code = errorCode(r);
        if (r.status === 200 || decide(r.status, code, r.body) === "done") {
          this.note(
            `membership ${what}: ${r.status}${code ? ` ${code}` : ""} (attempt ${attempt}, via ${target.name})`,
          );
          return true;
        }
        // 409: conf_change_pending (the previous change is not applied yet) or unhealthy_cluster
        // (a member restarted moments ago is not yet counted as connected); both pass.
        const retryable = r.status === 503 || r.status === 409;
        if (!retryable || performance.now() > deadline) {
          this.problems.push(`membership ${what} failed: ${r.status} ${r.body.slice(0, 300)}`);
          this.note(`membership ${what} failed: ${r.status} ${r.body.slice(0, 300)}`);
          return false;
        }
        this.note(`membership ${what}: ${r.status} ${code}; retrying`);
      } else if (performance.now() > deadline) {
        this.problems.push(`membership ${what} failed: ${r.code} ${r.message}`);
        return false;
      }
      await sleep(500);
    }
  }

  private async idByPeerUrl(peerUrl: string): Promise<string | undefined> {
    for (const m of this.cluster.members.filter((x) => x.process)) {
      const r = await this.opts.http.request({
        method: "GET",
        baseUrl: m.clientUrl,
        path: "/v1/cluster/members",
        timeoutMs: 5_000,
      });
      if (r.kind !== "response" || r.status !== 200) continue;
      const list = (JSON.parse(r.body) as { members: { id: string; peer_urls: string[] }[] }).members;
      const found = list.find((x) => x.peer_urls.includes(peerUrl));
      if (found) return found.id;
    }
    return undefined;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** Restarts a stopped member (as it was first started) and waits for it to answer. */
  private async restart(m: TestMember): Promise<void> {
    this.cluster.start(m, this.joinedAtRuntime.has(m) ? "existing" : "new");
    const t0 = performance.now();
    if (await this.waitAnswering(m)) {
      this.note(`restarted ${m.name} (answering after ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }

  /** Waits until `m` answers /v1/status; false (problem recorded) when it exited or did not answer in time. */
  private async waitAnswering(m: TestMember): Promise<boolean> {
    const deadline = performance.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!m.process) {
        this.problems.push(`${m.name} exited while starting: ${m.stderr.slice(-1500)}`);
        this.note(`${m.name} exited while starting`);
        return false;
      }
      if (await this.status(m)) return true;
      if (performance.now() > deadline) {
        this.problems.push(`${m.name} did not answer within ${START_TIMEOUT_MS} ms of its start`);
        this.note(`${m.name} does not answer`);
        return false;
      }
      await sleep(100);
    }
  }

  /** Waits until the members agree on a leader again (after a healed fault). */
  private async recover(): Promise<void> {
    const t0 = performance.now();
    try {
      await this.cluster.waitForLeader(RECOVERY_TIMEOUT_MS);
    } catch (err) {
      this.problems.push(`no agreed leader within ${RECOVERY_TIMEOUT_MS} ms after a healed fault`);
      this.note(`no agreed leader after healing: ${(err as Error).message.slice(0, 500)}`);
      return;
    }
    const ms = performance.now() - t0;
    if (ms > 200) this.note(`leader agreed ${ms.toFixed(0)} ms after healing`);
  }

  /**
   * Polls the members not in the fault until one reports itself leader in a term after
   * `old.term`; returns the ms since `t0`, or null at `deadline`.
   */
  private async timeToNewLeader(
    old: { id: string; term: number },
    t0: number,
    deadline: number,
  ): Promise<number | null> {
    for (;;) {
      const members = this.cluster.members.filter(
        (m) => m.process && !this.paused.has(m) && this.ids.get(m) !== old.id,
      );
      const statuses = await Promise.all(members.map((m) => this.status(m, 500)));
      if (statuses.some((s) => s?.is_leader && s.member_id !== old.id && s.raft_term > old.term)) {
        return performance.now() - t0;
      }
      if (performance.now() >= deadline) return null;
      await sleep(25);
    }
  }

  /** Polls `m` until it no longer reports itself leader; ms since `t0`, or null at `deadline`. */
  private async timeToStepDown(m: TestMember, t0: number, deadline: number): Promise<number | null> {
    for (;;) {
      const s = await this.status(m, 500);
      if (s !== null && !s.is_leader) return performance.now() - t0;
      if (performance.now() >= deadline) return null;
      await sleep(25);
    }
  }

  private failpointsFile(m: TestMember): string {
    return path.join(this.opts.failpointsDir, `${m.name}.json`);
  }

  private attachFailpoints(m: TestMember): void {
    const file = this.failpointsFile(m);
    writeAtomically(file, "{}");
    m.env = { ...m.env, [FAILPOINTS_FILE_ENV]: file };
  }

  /** Writes every member's failpoints so that exactly `links` (from → to) lose their messages. */
  private writePartition(links: readonly [TestMember, TestMember][]): void {
    for (const m of this.cluster.members) {
      const dropTo = links.filter(([a]) => a === m).map(([, b]) => this.ids.get(b)!);
      const dropFrom = links.filter(([, b]) => b === m).map(([a]) => this.ids.get(a)!);
      writeAtomically(this.failpointsFile(m), JSON.stringify({ dropTo, dropFrom }));
    }
  }
}

/** Replaces `file` with `content` atomically (the reader never sees half a file). */
function writeAtomically(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

/** Fisher-Yates shuffle with `rng`, in place; returns `items`. */
function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").slice(0, 300);
}
