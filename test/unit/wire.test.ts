import { describe, expect, it } from "vitest";
import { etag, parseIfMatch, renderPersistentState, snapshotKey } from "../../src/state/wire";

describe("state wire format", () => {
  it("renders a PersistentState document that parses back to the same values", () => {
    const doc = JSON.parse(
      renderPersistentState({
        agent_id: 'a"b',
        agent_type: "worker",
        version: 3,
        created_at: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
        updated_at: Date.UTC(2026, 0, 2, 3, 4, 5, 7),
        state_json: JSON.stringify({ text: "line\nbreak \u2028", n: [1.5, null] }),
        restored_from: null,
      }),
    );
    expect(doc).toEqual({
      agent_id: 'a"b',
      agent_type: "worker",
      state_data: { text: "line\nbreak \u2028", n: [1.5, null] },
      created_at: "2026-01-02T03:04:05.006Z",
      updated_at: "2026-01-02T03:04:05.007Z",
      version: 3,
    });
  });

  it("names the version a restore came from", () => {
    const doc = JSON.parse(
      renderPersistentState({
        agent_id: "a",
        agent_type: "analytics",
        version: 4,
        created_at: 0,
        updated_at: 0,
        state_json: "{}",
        restored_from: 1,
      }),
    );
    expect(doc.restored_from).toBe(1);
  });

  it("parses If-Match: quoted, weak, bare, star, lists and junk", () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch('"7"')).toBe(7);
    expect(parseIfMatch('W/"7"')).toBe(7);
    expect(parseIfMatch("7")).toBe(7);
    expect(parseIfMatch(" * ")).toBe("*");
    expect(parseIfMatch('"7", "8"')).toBe(7);
    expect(parseIfMatch('"v7"')).toBe("never");
    expect(parseIfMatch("")).toBe("never");
  });

  it("quotes ETags and prefixes snapshot keys", () => {
    expect(etag(12)).toBe('"12"');
    expect(snapshotKey("agent-1")).toBe("agent_state:agent-1");
  });
});
