import { describe, expect, it } from "vitest";
import { AppError } from "../../src/lib/problem";
import { MAX_JSON_DEPTH, jsonShapeViolation, parseClientJson } from "../../src/lib/json-text";

const nested = (levels: number, open = "[", close = "]") => open.repeat(levels) + close.repeat(levels);

function refusal(text: string): AppError {
  try {
    parseClientJson(text);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error(`accepted: ${text.slice(0, 60)}`);
}

describe("the shape rules of client JSON", () => {
  it("accepts exactly MAX_JSON_DEPTH levels and refuses one more, naming the path", () => {
    expect(jsonShapeViolation(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(jsonShapeViolation(nested(MAX_JSON_DEPTH + 1))).toEqual({ rule: "depth", path: Array(MAX_JSON_DEPTH).fill("0").join(".") });
    const deepObject = `{"a":{"b":[1,2,${nested(MAX_JSON_DEPTH)}]}}`;
    expect(jsonShapeViolation(deepObject)).toEqual({
      rule: "depth",
      path: `a.b.2.${Array(MAX_JSON_DEPTH - 3)
        .fill("0")
        .join(".")}`,
    });
  });

  it("is not fooled by brackets, braces and quotes inside strings", () => {
    const text = JSON.stringify({ s: '[[[{{{"\\\\"]]]', t: ["{", "[", '\\"{'] });
    expect(jsonShapeViolation(text, 2)).toBeNull();
    expect(jsonShapeViolation(`{"a":"\\\\"}`)).toBeNull();
  });

  it("finds repeated member names at any depth, also when one is written with escapes", () => {
    expect(jsonShapeViolation(`{"state_data":{"a":1},"state_data":1}`)).toEqual({ rule: "duplicate_key", path: "state_data" });
    expect(jsonShapeViolation(`{"x":[{"k":1},{"k":2,"k":3}]}`)).toEqual({ rule: "duplicate_key", path: "x.1.k" });
    expect(jsonShapeViolation(`{"a":1,"\\u0061":2}`)).toEqual({ rule: "duplicate_key", path: "a" });
    // The same name in sibling objects, or as a string value, is fine.
    expect(jsonShapeViolation(`{"a":{"k":1},"b":{"k":1},"c":"a","d":["a","a"]}`)).toBeNull();
  });

  it("parseClientJson: 400 for text that is not JSON, 422 naming the rule otherwise", () => {
    expect(refusal("{nope").status).toBe(400);
    const deep = refusal(nested(5000));
    expect(deep.status).toBe(422);
    expect(deep.message).toContain(`deeper than ${MAX_JSON_DEPTH}`);
    const dup = refusal(`{"a":1,"a":2}`);
    expect(dup.status).toBe(422);
    expect(dup.errors).toEqual([{ path: "a", message: expect.stringContaining("more than once") }]);
    expect(parseClientJson(`{"a":[1,{"b":null}]}`)).toEqual({ a: [1, { b: null }] });
  });
});

describe("numbers a 64-bit float cannot hold", () => {
  it("refuses 1e999 and a 400-digit integer, naming where; accepts 1e308", () => {
    expect(refusal(`{"a":{"b":[1,1e999]}}`).errors).toEqual([{ path: "a.b.1", message: expect.stringContaining("64-bit float") }]);
    expect(refusal(`[${"9".repeat(400)}]`).status).toBe(422);
    expect(parseClientJson(`{"a":1e308,"b":-1E+300,"c":"1e999"}`)).toEqual({ a: 1e308, b: -1e300, c: "1e999" });
  });
});
