/**
 * Locates the first syntax error of a JSON text (RFC 8259) as line and column. JSON.parse says
 * only "at position N" on Node 20 and nothing on Bun, so after JSON.parse fails this scanner walks
 * the text once (iteratively: nesting depth costs no stack) and reports where and why.
 */

/** Where a text stops being valid JSON. `line` and `column` are 1-based; columns count UTF-16 units. */
export interface JsonSyntaxError {
  message: string;
  /** 0-based offset into the text. */
  offset: number;
  line: number;
  column: number;
}

/** 1-based line and column of `offset` in `text` (lines end at "\n"). */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** Parser states, one per open container. */
type Ctx = 0 | 1 | 2 | 3;
/** Inside an array, expecting a value or "]". */
const ARRAY_START: Ctx = 0;
/** Inside an array after a value, expecting "," or "]". */
const ARRAY_NEXT: Ctx = 1;
/** Inside an object, expecting a key or "}". */
const OBJECT_START: Ctx = 2;
/** Inside an object after a value, expecting "," or "}". */
const OBJECT_NEXT: Ctx = 3;

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

function describe(text: string, i: number): string {
  if (i >= text.length) return "end of input";
  const ch = text[i]!;
  return ch < " " ? `character U+${ch.charCodeAt(0).toString(16).padStart(4, "0")}` : `'${ch}'`;
}

/**
 * Finds the first JSON syntax error of `text`.
 * @returns the error, or undefined when `text` is valid JSON
 */
export function locateJsonError(text: string): JsonSyntaxError | undefined {
  const n = text.length;
  const stack: Ctx[] = [];
  let i = 0;
  const fail = (message: string, at: number): JsonSyntaxError => ({
    message,
    offset: at,
    ...lineColumn(text, at),
  });
  const skipWs = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  /** Scans a string starting at the opening quote; returns an error or undefined. */
  const scanString = (): JsonSyntaxError | undefined => {
    const start = i;
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return fail(`unescaped ${describe(text, i)} in string`, i);
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail("bad \\u escape in string", i);
          i += 6;
          continue;
        }
        if (e === undefined || '"\\/bfnrt'.indexOf(e) < 0) return fail("bad escape in string", i);
        i += 2;
        continue;
      }
      i++;
    }
    return fail("unterminated string", start);
  };
  /** Scans one scalar or opens a container; returns an error or undefined. */
  const scanValue = (): JsonSyntaxError | undefined => {
    skipWs();
    if (i >= n) return fail("unexpected end of input, expected a value", i);
    const ch = text[i]!;
    if (ch === "{") {
      stack.push(OBJECT_START);
      i++;
      return undefined;
    }
    if (ch === "[") {
      stack.push(ARRAY_START);
      i++;
      return undefined;
    }
    if (ch === '"') return scanString();
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return undefined;
      }
    }
    NUMBER_RE.lastIndex = i;
    if (NUMBER_RE.test(text)) {
      i = NUMBER_RE.lastIndex;
      return undefined;
    }
    return fail(`unexpected ${describe(text, i)}, expected a value`, i);
  };
  /** Scans `"key" :` inside an object. */
  const scanKey = (): JsonSyntaxError | undefined => {
    skipWs();
    if (text[i] !== '"')
      return fail(`unexpected ${describe(text, i)}, expected a property name in quotes`, i);
    const err = scanString();
    if (err) return err;
    skipWs();
    if (text[i] !== ":") return fail(`unexpected ${describe(text, i)}, expected ':' after property name`, i);
    i++;
    return undefined;
  };

  let err = scanValue();
  while (!err && stack.length > 0) {
    skipWs();
    const top = stack[stack.length - 1]!;
    switch (top) {
      case ARRAY_START:
        if (text[i] === "]") {
          i++;
          stack.pop();
        } else {
          stack[stack.length - 1] = ARRAY_NEXT;
          err = scanValue();
        }
        break;
      case ARRAY_NEXT:
        if (text[i] === "]") {
          i++;
          stack.pop();
        } else if (text[i] === ",") {
          i++;
          err = scanValue();
        } else {
          err = fail(`unexpected ${describe(text, i)}, expected ',' or ']' after array element`, i);
        }
        break;
      case OBJECT_START:
        if (text[i] === "}") {
          i++;
          stack.pop();
        } else {
          stack[stack.length - 1] = OBJECT_NEXT;
          err = scanKey() ?? scanValue();
        }
        break;
      case OBJECT_NEXT:
        if (text[i] === "}") {
          i++;
          stack.pop();
        } else if (text[i] === ",") {
          i++;
          err = scanKey() ?? scanValue();
        } else {
          err = fail(`unexpected ${describe(text, i)}, expected ',' or '}' after property value`, i);
        }
        break;
    }
  }
  if (err) return err;
  skipWs();
  if (i < n) return fail(`unexpected ${describe(text, i)} after the JSON value`, i);
  return undefined;
}
