/**
 * Values declared as structured text must parse (a config center's most common outage is a
 * committed JSON edit with a missing comma). The media type of the value's Content-Type picks
 * the parser: JSON (application/json, any +json), YAML (application/yaml, application/x-yaml,
 * text/yaml, text/x-yaml) via `yaml`, TOML (application/toml) via `smol-toml`. Anything else
 * is stored as opaque bytes.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { parseAllDocuments } from "yaml";
import { CairnError } from "../util/errors.ts";
import { lineColumn, locateJsonError } from "./json-locate.ts";

/** The syntaxes Cairn checks. */
export type ValueSyntax = "JSON" | "YAML" | "TOML";

/**
 * The syntax a Content-Type declares, from its media type (parameters and case ignored).
 * @returns undefined for types stored unchecked
 */
export function syntaxOf(contentType: string | undefined): ValueSyntax | undefined {
  if (!contentType) return undefined;
  const semi = contentType.indexOf(";");
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (media === "application/json" || media.endsWith("+json")) return "JSON";
  if (
    media === "application/yaml" ||
    media === "application/x-yaml" ||
    media === "text/yaml" ||
    media === "text/x-yaml" ||
    media.endsWith("+yaml")
  ) {
    return "YAML";
  }
  if (media === "application/toml" || media.endsWith("+toml")) return "TOML";
  return undefined;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function invalidValue(what: string, syntax: ValueSyntax, reason: string, line: number, column: number) {
  return new CairnError(
    "invalid_value",
    `${what} is not valid ${syntax}: ${reason} at line ${line}, column ${column}`,
    { line, column },
  );
}

/** Location of the first bad UTF-8 sequence, from the replacement character of a lossy decode. */
function badUtf8(bytes: Uint8Array, what: string, syntax: ValueSyntax): CairnError {
  const lossy = new TextDecoder("utf-8").decode(bytes);
  const at = Math.max(0, lossy.indexOf("\uFFFD"));
  const { line, column } = lineColumn(lossy, at);
  return invalidValue(what, syntax, "invalid UTF-8 byte sequence", line, column);
}

/**
 * Checks that `value` parses as the syntax its `contentType` declares.
 * @param what how the message names the value ("value", "success[0].put.value")
 * @throws CairnError "invalid_value" whose message contains "line L, column C" (1-based; columns
 *   count UTF-16 units) and whose details carry `line` and `column`
 */
export function validateValue(contentType: string | undefined, value: Uint8Array, what = "value"): void {
  const syntax = syntaxOf(contentType);
  if (!syntax) return;
  let text: string;
  try {
    text = decoder.decode(value);
  } catch {
    throw badUtf8(value, what, syntax);
  }
  switch (syntax) {
    case "JSON":
      checkJson(text, what);
      return;
    case "YAML":
      checkYaml(text, what);
      return;
    case "TOML":
      checkToml(text, what);
      return;
  }
}

function checkJson(text: string, what: string): void {
  try {
    JSON.parse(text);
    return;
  } catch (e) {
    const where = locateJsonError(text);
    if (where) throw invalidValue(what, "JSON", where.message, where.line, where.column);
    throw invalidValue(what, "JSON", (e as Error).message, 1, 1);
  }
}

function checkYaml(text: string, what: string): void {
  for (const doc of parseAllDocuments(text)) {
    const first = doc.errors[0];
    if (!first) continue;
    const pos = first.linePos?.[0] ?? lineColumnOf(text, first.pos[0]);
    // The library's message ends with " at line L, column C:" and a code excerpt; keep the reason.
    const reason = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw invalidValue(what, "YAML", reason, pos.line, pos.col);
  }
}

function lineColumnOf(text: string, offset: number): { line: number; col: number } {
  const { line, column } = lineColumn(text, offset);
  return { line, col: column };
}

function checkToml(text: string, what: string): void {
  try {
    parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = e.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw invalidValue(what, "TOML", reason, e.line, e.column);
    }
    throw e;
  }
}
