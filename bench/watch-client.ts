/**
 * One watcher process of bench/watch.ts (started with child_process.fork, driven over IPC, see
 * bench/watch-ipc.ts): holds its share of the SSE watchers (`GET /v1/watch?key=cfg/&prefix=true`)
 * on plain node:http with one keep-alive agent (maxSockets Infinity: one socket per stream),
 * parses each stream as it arrives (src/client/sse.ts) and checks, per watcher, that revisions
 * come exactly once and in order. In a phase that writes only inside the watched prefix
 * (expect "every") a watcher must see every revision after the phase's start, one after the
 * other; in a phase that also writes other keys (expect "listed") it records the revisions it
 * gets, and the parent sends the prefix's revisions of the phase (from the member's history) to
 * compare with. Probe events (the writer's values carry their send time) go into a put→event
 * latency histogram.
 *
 * Not meant to be run by hand: it exits when its parent goes away.
 */
import http from "node:http";
import type { Histogram } from "hdr-histogram-js";
import * as hdr from "hdr-histogram-js";
import { type SseEvent, SseParser } from "../src/client/sse.ts";
import {
  type ChildMessage,
  newLatencyHistogram,
  nowMs,
  type ParentMessage,
  type PhaseCounters,
  PROBE_KEY,
  PROBE_MARK,
  type ProbeValue,
  WATCH_PREFIX,
} from "./watch-ipc.ts";

/** Distinct error texts kept per phase. */
const MAX_SAMPLES = 5;

interface Watcher {
  req: http.ClientRequest | null;
  parser: SseParser;
  /** opening: waiting for `created`; open: streaming; done: ended (cancelled, failed, closed). */
  state: "opening" | "open" | "done";
  /** Next revision expected (from `created`'s start_revision on); in a "listed" phase, one above the last seen. */
  next: number;
  /** Revisions received in the current "listed" phase (empty otherwise). */
  got: number[];
  /** When the last revision event arrived (ms, machine clock). */
  lastEventMs: number;
  /** Settles the open() promise once (created or failure). */
  settle: ((error: string | null) => void) | null;
}

interface Phase extends PhaseCounters {
  phase: string;
  latency: Histogram;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 16 });
const watchers: Watcher[] = [];
const phases: Phase[] = [];
let phase = newPhase("open");
/** What the current phase expects: every revision, or the revisions a `verify` message lists. */
let expect: "every" | "listed" = "every";
let closing = false;
/** The drain in progress: target revision and the count of open watchers still below it. */
let drain: { id: number; revision: number; behind: number; start: number; timer: NodeJS.Timeout } | null =
  null;

function newPhase(name: string): Phase {
  const p: Phase = {
    phase: name,
    events: 0,
    missed: 0,
    duplicates: 0,
    probeEvents: 0,
    cancelled: 0,
    compacted: 0,
    broken: 0,
    samples: [],
    latency: newLatencyHistogram(),
  };
  phases.push(p);
  return p;
}

function send(m: ChildMessage): void {
  process.send?.(m);
}

function sample(text: string): void {
  if (phase.samples.length < MAX_SAMPLES && !phase.samples.includes(text)) phase.samples.push(text);
}

/** Ends a watcher (no more counting); an open watcher still below the drain target stops being waited for. */
function finish(w: Watcher): void {
  if (w.state === "done") return;
  const wasBehind = w.state === "open" && drain !== null && w.next - 1 < drain.revision;
  w.state = "done";
  w.req?.destroy();
  w.req = null;
  if (wasBehind && drain) {
    drain.behind--;
    checkDrain();
  }
}

/** True once the watcher is done (a function, so TypeScript does not narrow the state across calls). */
function ended(w: Watcher): boolean {
  return w.state === "done";
}

/** A stream failure: counted as broken unless we are closing on purpose. */
function broken(w: Watcher, why: string): void {
  if (w.state === "done" || closing) return;
  if (w.state === "opening") {
    w.settle?.(why);
    w.settle = null;
  } else {
    phase.broken++;
    sample(why);
  }
  finish(w);
}

function onEvent(w: Watcher, ev: SseEvent, receivedMs: number): void {
  switch (ev.event) {
    case "message": {
      if (w.state !== "open") {
        broken(w, "revision event before created");
        return;
      }
      const rev = Number(ev.id);
      if (!Number.isSafeInteger(rev)) {
        broken(w, `event without a revision id: ${ev.id}`);
        return;
      }
      phase.events++;
      const before = w.next - 1;
      if (rev < w.next) {
        phase.duplicates++;
        sample(`revision ${rev} after ${w.next - 1} (duplicate or out of order)`);
        return;
      }
      if (expect === "listed") w.got.push(rev);
      else if (rev > w.next) {
        phase.missed += rev - w.next;
        sample(`revision ${rev} after ${w.next - 1}: ${rev - w.next} missed`);
      }
      w.next = rev + 1;
      w.lastEventMs = receivedMs;
      if (ev.data.includes(PROBE_MARK)) probe(ev.data, rev, receivedMs);
      if (drain && before < drain.revision && rev >= drain.revision) {
        drain.behind--;
        checkDrain();
      }
      return;
    }
    case "created": {
      if (w.state !== "opening") {
        broken(w, "second created event");
        return;
      }
      const d = JSON.parse(ev.data) as { start_revision?: number };
      if (typeof d.start_revision !== "number") {
        broken(w, `created without start_revision: ${ev.data}`);
        return;
      }
      w.next = d.start_revision;
      w.state = "open";
      w.settle?.(null);
      w.settle = null;
      return;
    }
    case "cancelled":
      phase.cancelled++;
      sample(`cancelled: ${ev.data}`);
      finish(w);
      return;
    case "compacted":
      phase.compacted++;
      sample(`compacted: ${ev.data}`);
      finish(w);
      return;
    case "progress":
      return;
    default:
      broken(w, `unexpected event "${ev.event}"`);
  }
}

/** Records now − send time of every probe event in one revision message. */
function probe(data: string, rev: number, receivedMs: number): void {
  const msg = JSON.parse(data) as { revision: number; events: { kv: { key: string; value?: string } }[] };
  if (msg.revision !== rev) sample(`data revision ${msg.revision} under id ${rev}`);
  for (const e of msg.events) {
    if (e.kv.key !== PROBE_KEY || e.kv.value === undefined) continue;
    const v = JSON.parse(e.kv.value) as ProbeValue;
    phase.latency.recordValue(Math.max(1, Math.round((receivedMs - v.t) * 1000)));
    phase.probeEvents++;
  }
}

function checkDrain(): void {
  if (drain && drain.behind <= 0) answerDrain();
}

function answerDrain(): void {
  if (!drain) return;
  const d = drain;
  drain = null;
  clearTimeout(d.timer);
  let open = 0;
  let behind = 0;
  let lastEventMs = 0;
  for (const w of watchers) {
    if (w.state !== "open") continue;
    open++;
    if (w.next - 1 < d.revision) behind++;
    lastEventMs = Math.max(lastEventMs, w.lastEventMs);
  }
  send({ type: "drained", id: d.id, open, behind, lastEventMs, elapsedMs: performance.now() - d.start });
}

/** Opens one watcher; resolves null once `created` arrived, or with the reason it failed. */
function openOne(url: URL, timeoutMs: number): Promise<string | null> {
  const w: Watcher = {
    req: null,
    parser: new SseParser(),
    state: "opening",
    next: 0,
    got: [],
    lastEventMs: 0,
    settle: null,
  };
  watchers.push(w);
  return new Promise((resolve) => {
    const timer = setTimeout(() => broken(w, `no created event within ${timeoutMs} ms`), timeoutMs);
    w.settle = (err) => {
      clearTimeout(timer);
      resolve(err);
    };
    const req = http.get(
      {
        hostname: url.hostname,
        port: url.port,
        path: `/v1/watch?key=${encodeURIComponent(WATCH_PREFIX)}&prefix=true`,
        agent,
        headers: { accept: "text/event-stream" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            if (body.length < 300) body += c;
          });
          res.on("end", () => broken(w, `http ${res.statusCode}: ${body.slice(0, 200)}`));
          return;
        }
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          const received = nowMs();
          if (ended(w)) return;
          let events: SseEvent[];
          try {
            events = w.parser.push(chunk);
          } catch (err) {
            broken(w, `bad event stream: ${String(err)}`);
            return;
          }
          for (const ev of events) {
            try {
              onEvent(w, ev, received);
            } catch (err) {
              broken(w, `bad event ${ev.event}: ${String(err)}`);
            }
            if (ended(w)) return;
          }
        });
        res.on("end", () => broken(w, "stream ended without a final event"));
        res.on("error", (err) =>
          broken(w, `stream error: ${(err as { code?: string }).code ?? err.message}`),
        );
      },
    );
    w.req = req;
    req.on("error", (err) => broken(w, `request error: ${(err as { code?: string }).code ?? err.message}`));
  });
}

async function open(m: Extract<ParentMessage, { type: "open" }>): Promise<void> {
  const url = new URL(m.url);
  const start = performance.now();
  let opened = 0;
  let failed = 0;
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < m.count && !closing) {
      next++;
      const err = await openOne(url, m.timeoutMs);
      if (err === null) opened++;
      else {
        failed++;
        if (errors.length < MAX_SAMPLES && !errors.includes(err)) errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(m.concurrency, m.count)) }, worker));
  send({ type: "opened", opened, failed, errors, elapsedMs: performance.now() - start });
}

function startDrain(m: Extract<ParentMessage, { type: "drain" }>): void {
  if (drain) answerDrain();
  const behind = watchers.filter((w) => w.state === "open" && w.next - 1 < m.revision).length;
  drain = {
    id: m.id,
    revision: m.revision,
    behind,
    start: performance.now(),
    timer: setTimeout(answerDrain, m.timeoutMs),
  };
  checkDrain();
}

/** Starts a phase: new counters; every open watcher's position moves past the revisions before it. */
function startPhase(m: Extract<ParentMessage, { type: "phase" }>): void {
  phase = newPhase(m.phase);
  expect = m.expect;
  for (const w of watchers) {
    w.got = [];
    // Revisions up to fromRevision belong to earlier phases (checked there); in an "every" phase
    // the first one expected is the next.
    if (w.state === "open") w.next = Math.max(w.next, m.fromRevision + 1);
  }
  send({ type: "phased", phase: m.phase });
}

/** Compares each open watcher's revisions of the phase with the prefix's (sorted, distinct). */
function verify(m: Extract<ParentMessage, { type: "verify" }>): void {
  const wanted = new Set(m.revisions);
  let checked = 0;
  let missed = 0;
  let unexpected = 0;
  for (const w of watchers) {
    if (w.state !== "open") continue;
    checked++;
    let hit = 0;
    for (const rev of w.got) {
      if (wanted.has(rev)) hit++;
      else {
        unexpected++;
        sample(`revision ${rev} delivered, but it is not in the watched prefix's history of the phase`);
      }
    }
    if (hit < wanted.size) {
      missed += wanted.size - hit;
      const first = m.revisions.find((r) => !w.got.includes(r));
      sample(`${wanted.size - hit} of the prefix's ${wanted.size} revisions missed (first: ${first})`);
    }
    w.got = [];
  }
  phase.missed += missed;
  phase.duplicates += unexpected;
  send({ type: "verified", checked, missed, unexpected });
}

/** Sends the result; `then` runs once it left (process.send's callback). */
function result(then: () => void): void {
  const m: ChildMessage = {
    type: "result",
    open: watchers.filter((w) => w.state === "open").length,
    phases: phases.map(({ latency, ...counters }) => ({
      ...counters,
      latencyB64: hdr.encodeIntoCompressedBase64(latency),
    })),
  };
  if (!process.send) then();
  else process.send(m, undefined, undefined, () => then());
}

process.on("message", (raw) => {
  const m = raw as ParentMessage;
  switch (m.type) {
    case "open":
      void open(m).catch((err: unknown) => send({ type: "fatal", message: String(err) }));
      break;
    case "phase":
      startPhase(m);
      break;
    case "verify":
      verify(m);
      break;
    case "drain":
      startDrain(m);
      break;
    case "finish":
      closing = true;
      result(() => {
        for (const w of watchers) finish(w);
        agent.destroy();
        process.exit(0);
      });
      break;
  }
});
// The parent is gone (crash, Ctrl-C): never linger holding thousands of sockets.
process.on("disconnect", () => {
  if (!closing) process.exit(0);
});
process.on("uncaughtException", (err) => {
  send({ type: "fatal", message: err.stack ?? err.message });
  process.exit(1);
});
send({ type: "ready" });
