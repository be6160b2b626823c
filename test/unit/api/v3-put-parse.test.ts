/**
 * The put fast path agrees with the general path it shortcuts: parsePut on a parsed body gives
 * exactly what `putSchema.parse` gives: the same request, or the same error message.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseJsonBody } from "../../../src/api/body.ts";
import { fromZodError } from "../../../src/api/errors.ts";
import { PUT_FAST_PATH_FIELDS, parsePut, putSchema } from "../../../src/api/routes/v3-kv.schema.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { seededRandom } from "../../../src/util/random.ts";

/** Deterministic PRNG, so a failure reproduces. */
const rng = seededRandom;

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** A comparable form of a request or an error. */
function outcome(run: () => unknown): unknown {
  try {
    const wire = run() as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(wire).sort()) {
      const v = wire[k];
      out[k] = v instanceof Uint8Array ? `bytes:${hex(v)}` : v;
    }
    return { ok: out };
  } catch (err) {
    if (err instanceof z.core.$ZodError) return { error: fromZodError(err).message };
    if (err instanceof CairnError) return { error: `${err.code}: ${err.message}`, details: err.details };
    throw err;
  }
}

const EMPTY = Object.freeze({});
const general = (body: Uint8Array) => () => putSchema.parse(parseJsonBody(body, EMPTY));
const route = (body: Uint8Array) => () => parsePut(parseJsonBody(body, EMPTY));

/** Bodies: the plain shapes, every field kind, and near misses of each. */
function corpus(): Uint8Array[] {
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const ws = ["", "", "", " ", "\n", "\t", "\r\n  ", "\u000b", "\u00a0"];
  const names = [
    "key",
    "value",
    "lease",
    "prev_kv",
    "ignore_value",
    "ignore_lease",
    "future_field",
    "k\\u0065y",
    "Key",
    "__proto__",
    "valu",
    "",
  ];
  const b64 = () => {
    const bytes = Buffer.from(
      Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 256)),
    );
    return pick([
      bytes.toString("base64"),
      bytes.toString("base64url"),
      bytes.toString("base64").replace(/=+$/, ""),
    ]);
  };
  const values = [
    () => `"${b64()}"`,
    () => `"${b64()}"`,
    () => `"${b64()}"`,
    () => '""',
    () => '"A"',
    () => '"AB="',
    () => '"AB==="',
    () => '"QU\\/D"',
    () => '"QUJD\u00e9"',
    () => '"QU JD"',
    () => `"${Math.floor(rand() * 1000)}"`,
    () => '"007"',
    () => '"-1"',
    () => '"1.5"',
    () => '"123456789012345"',
    () => '"1234567890123456"',
    () => '"9007199254740993"',
    () => `${Math.floor(rand() * 1000)}`,
    () => "0",
    () => "00",
    () => "01",
    () => "-1",
    () => "-0",
    () => "1.0",
    () => "1.5",
    () => "1e3",
    () => "1E3",
    () => "123456789012345",
    () => "1234567890123456",
    () => "9007199254740993",
    () => "true",
    () => "false",
    () => "tru",
    () => "truex",
    () => "null",
    () => "[]",
    () => "{}",
    () => '{"a":1}',
    () => '"true"',
  ];
  const member = () => `${pick(ws)}"${pick(names)}"${pick(ws)}:${pick(ws)}${pick(values)()}${pick(ws)}`;
  const out: string[] = [
    "",
    " ",
    "{}",
    " { } ",
    "[]",
    "null",
    "1",
    '"x"',
    "\ufeff{}",
    '{"key":"Zm9v","value":"YmFy"}',
    '{"key":"Zm9v","value":"YmFy",}',
    '{"key":"Zm9v" "value":"YmFy"}',
    '{"key":"Zm9v","value":"YmFy"} x',
    '{"key":"Zm9v","value":"YmFy"}}',
    '{"key":"Zm9v","key":"YmFy"}',
    '{"key":"Zm9v","lease":"7","prev_kv":true,"ignore_value":false,"ignore_lease":false}',
    '{"key":"","value":"YmFy"}',
    '{"value":"YmFy"}',
    '{"key":"Zm9v","ignore_value":true,"value":"YmFy"}',
    '{"key":"Zm9v","ignore_lease":true,"lease":5}',
    '{"key":"Zm9v",\n"value":"YmFy"\n}\n',
    '{"key":"Zm9v","value":"YmFy"',
    '{"key":"Zm9v","value":"YmFy',
    '{"key":"Zm9v","value":',
    '{"key":"Zm9v","value"',
    '{"key":"Zm9v","value',
    '{"key"',
    "{",
  ];
  for (let k = 0; k < 6000; k++) {
    const n = Math.floor(rand() * 7);
    const members = Array.from({ length: n }, member);
    out.push(`${pick(ws)}{${members.join(",")}${n === 0 ? pick(ws) : ""}}${pick(ws)}`);
  }
  const bodies = out.map((t) => new Uint8Array(Buffer.from(t, "utf8")));
  // byte-level mutations of plain bodies
  const plain = bodies.slice(9, 22);
  for (let k = 0; k < 4000; k++) {
    const b = Array.from(pick(plain));
    const at = Math.floor(rand() * (b.length + 1));
    const op = rand();
    const byte = pick([
      0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x20, 0x3d, 0x30, 0x41, 0x00, 0xc3, 0xff, 0x2e, 0x65,
    ]);
    if (op < 0.4) b.splice(at, 1);
    else if (op < 0.8) b.splice(at, 0, byte);
    else b[Math.min(at, b.length - 1)] = byte;
    bodies.push(Uint8Array.from(b));
  }
  return bodies;
}

describe("put body fast path", () => {
  it("reads every field of the put schema itself (none is dropped)", () => {
    expect([...PUT_FAST_PATH_FIELDS].sort()).toEqual(Object.keys(putSchema.shape).sort());
  });

  it("gives the general path's request or error for every body", () => {
    for (const body of corpus()) {
      const text = Buffer.from(body).toString("latin1");
      expect(outcome(route(body)), text).toEqual(outcome(general(body)));
    }
  });
});
