import { describe, expect, it } from "vitest";
import { isSecretHeader, readRedacted, REDACTED, redactHeadersInPlace } from "../../src/tasks/redact";

describe("task metadata redaction", () => {
  it("names credential headers case-insensitively: the listed ones and names with a credential word", () => {
    for (const name of [
      "Authorization",
      "PROXY-AUTHORIZATION",
      "cookie",
      "Set-Cookie",
      "x-api-key",
      "X-Auth-Token",
      "X-Upstream-Secret",
      "X-Session-Id",
      "api_key",
      "X-Hub-Signature-256",
    ]) {
      expect(isSecretHeader(name), name).toBe(true);
    }
    for (const name of ["Accept", "Content-Type", "User-Agent", "X-Request-Id", "If-None-Match"]) {
      expect(isSecretHeader(name), name).toBe(false);
    }
  });

  it("redacts header values in every `headers` object, at any depth, objects and [name, value] lists, and nothing else", () => {
    const json = JSON.stringify({
      url: "https://api.example/x",
      headers: { Authorization: "Bearer a", Accept: "application/json", "X-API-Key": "k" },
      steps: [
        { request: { HEADERS: { cookie: "c=1", "content-type": "text/plain" } } },
        {
          headers: [
            ["Proxy-Authorization", "Basic p"],
            ["Accept", "*/*"],
          ],
        },
      ],
      // Not in a headers object: an ordinary field that happens to be called authorization.
      authorization: "kept",
      note: "headers are redacted",
    });
    expect(readRedacted(json)).toEqual({
      url: "https://api.example/x",
      headers: { Authorization: REDACTED, Accept: "application/json", "X-API-Key": REDACTED },
      steps: [
        { request: { HEADERS: { cookie: REDACTED, "content-type": "text/plain" } } },
        {
          headers: [
            ["Proxy-Authorization", REDACTED],
            ["Accept", "*/*"],
          ],
        },
      ],
      authorization: "kept",
      note: "headers are redacted",
    });
  });

  it("leaves values without a headers object as parsed, and survives nesting deeper than the call stack", () => {
    expect(readRedacted('{"data":[1,2,3]}')).toEqual({ data: [1, 2, 3] });
    expect(readRedacted("null")).toBeNull();
    let deep: unknown = { headers: { Cookie: "x" } };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    let inner = redactHeadersInPlace(deep);
    for (let i = 0; i < 100_000; i++) inner = (inner as unknown[])[0];
    expect(inner).toEqual({ headers: { Cookie: REDACTED } });
  });
});
