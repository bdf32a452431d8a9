/**
 * docs/monitoring.md lists every log event: its event table names exactly the events of the
 * `LogEvent` union in src/lib/log.ts, so a new event cannot ship undocumented, nor a removed one
 * stay in the docs. (The union is a type, gone at run time; its source text is what is read.)
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const read = (path: string) => readFileSync(resolve(ROOT, path), "utf8");

function unionEvents(): string[] {
  const source = read("src/lib/log.ts");
  const union = source.slice(source.indexOf("export type LogEvent"), source.indexOf("export const LOG_LEVELS"));
  return [...union.matchAll(/event: "([a-z_.]+)"/g)].map((m) => m[1]!).sort();
}

function documentedEvents(): string[] {
  const doc = read("docs/monitoring.md");
  const section = doc.slice(doc.indexOf("## Log lines"), doc.indexOf("\n## ", doc.indexOf("## Log lines") + 1));
  return [...section.matchAll(/^\| `([a-z_.]+)` \|/gm)].map((m) => m[1]!).sort();
}

describe("docs/monitoring.md", () => {
  it("lists exactly the events of the LogEvent union", () => {
    const events = unionEvents();
    expect(events.length).toBeGreaterThan(30);
    expect(documentedEvents()).toEqual(events);
  });
});
