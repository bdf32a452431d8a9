/**
 * The one way the API reads JSON text it did not write: `JSON.parse`, then a single linear pass
 * over the same text that enforces what `JSON.parse` lets through.
 *
 * - Nesting deeper than {@link MAX_JSON_DEPTH} is refused. A few thousand levels parse fine but
 *   later overflow the stack of whatever walks the value (validation, structured clone to a
 *   Durable Object, `JSON.stringify`), which surfaced as a 500 long after the body was accepted.
 * - Duplicate member names are refused (I-JSON, RFC 7493 §2.3). `JSON.parse` keeps the last one
 *   silently, so `{"state_data": {…}, "state_data": 1}` meant something else to every reader.
 *
 * - Numbers beyond the range of a 64-bit float are refused. `JSON.parse` reads `1e999` as
 *   Infinity, which every later `JSON.stringify` writes as `null`: the stored value would differ
 *   from the one sent, silently.
 *
 * Each is a 422 naming the rule and the path, so a client sees where its document went wrong.
 */
import { AppError } from "./problem";

/** Containers (objects and arrays) inside one another, the outermost counting as 1. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** A container being scanned: an object's names so far (null for an array) and its path. */
interface Frame {
  names: Set<string> | null;
  path: string;
  /** Where a child sits: the last member name of an object, the element index of an array. */
  at: string;
  index: number;
}

export type JsonShapeViolation = { rule: "depth" | "duplicate_key"; path: string };

function childPath(frame: Frame): string {
  const at = frame.names ? frame.at : String(frame.index);
  return frame.path === "" ? at : `${frame.path}.${at}`;
}

/** The index of the quote that closes the string opened at `open` (the text is valid JSON). */
function stringEnd(text: string, open: number): number {
  let i = open;
  for (;;) {
    i = text.indexOf('"', i + 1);
    let slashes = 0;
    while (text.charCodeAt(i - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return i;
  }
}

/**
 * The first depth or duplicate-name violation in `text`, which must already be valid JSON
 * (call it after `JSON.parse` succeeded); null when there is none. Linear in the text's length:
 * strings are skipped with `indexOf`, and only member names are sliced out.
 */
export function jsonShapeViolation(text: string, maxDepth = MAX_JSON_DEPTH): JsonShapeViolation | null {
  const stack: Frame[] = [];
  let top: Frame | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === QUOTE) {
      const end = stringEnd(text, i);
      if (top?.names) {
        // A string directly inside an object is a member name when a colon follows it.
        let j = end + 1;
        while (text.charCodeAt(j) <= 0x20) j++;
        if (text.charCodeAt(j) === COLON) {
          const raw = text.slice(i + 1, end);
          const name = raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
          top.at = name;
          if (top.names.has(name)) return { rule: "duplicate_key", path: childPath(top) };
          top.names.add(name);
        }
      }
      i = end;
    } else if (ch === OPEN_BRACE || ch === OPEN_BRACKET) {
      const path = top ? childPath(top) : "";
      if (stack.length >= maxDepth) return { rule: "depth", path: path || "(root)" };
      top = { names: ch === OPEN_BRACE ? new Set() : null, path, at: "", index: 0 };
      stack.push(top);
    } else if (ch === CLOSE_BRACE || ch === CLOSE_BRACKET) {
      stack.pop();
      top = stack[stack.length - 1];
    } else if (ch === COMMA && top && !top.names) {
      top.index++;
    }
  }
  return null;
}

/**
 * Parses JSON text from a client: 400 when it is not JSON, 422 when it nests deeper than
 * {@link MAX_JSON_DEPTH} or repeats a member name.
 */
export function parseClientJson(text: string, what = "The body"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError("malformed_request", `${what} is not valid JSON: ${(err as Error).message}`);
  }
  const violation = jsonShapeViolation(text);
  if (violation?.rule === "depth") {
    const message = `nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`;
    throw new AppError("validation_failed", `${what} ${message} (at ${violation.path}).`, { errors: [{ path: violation.path, message }] });
  }
  if (violation?.rule === "duplicate_key") {
    const message = "this member name appears more than once in its object";
    throw new AppError("validation_failed", `${what} repeats the member ${violation.path}.`, {
      errors: [{ path: violation.path, message }],
    });
  }
  // Only a three-digit exponent or a 309-digit run can overflow: most bodies skip the walk.
  if (MAYBE_OVERFLOW.test(text)) {
    const at = nonFinitePath(value, "");
    if (at !== null) {
      const message = "this number is beyond the range of a 64-bit float";
      throw new AppError("validation_failed", `${what} has a number out of range at ${at || "(root)"}.`, {
        errors: [{ path: at || "(root)", message }],
      });
    }
  }
  return value;
}

const MAYBE_OVERFLOW = /[eE]\+?\d{3}|\d{309}/;

/** The path of the first non-finite number in a parsed value (depth already bounded), or null. */
function nonFinitePath(value: unknown, path: string): string | null {
  if (typeof value === "number") return Number.isFinite(value) ? null : path;
  if (typeof value !== "object" || value === null) return null;
  for (const [key, child] of Object.entries(value)) {
    const found = nonFinitePath(child, path === "" ? key : `${path}.${key}`);
    if (found !== null) return found;
  }
  return null;
}
