/**
 * The docs stay honest about the tree: every relative link in README.md and docs/*.md points to a
 * file or folder that exists (and an `#anchor` into a Markdown file to one of its headings, slugged
 * as GitHub does), and every repository path in the capability map of docs/architecture.md exists
 * (a `*` in a path must match at least one file), with every folder under src/ named there.
 * Links and paths inside code blocks and code spans are examples, not links, and are skipped.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];
const SKIPPED_DIRS = new Set([".git", "node_modules", ".wrangler", ".data", "dist", "coverage"]);

/** The text with fenced code blocks blanked out (line numbers kept). */
function withoutCodeBlocks(text: string): string {
  let fence: string | null = null;
  return text
    .split("\n")
    .map((line) => {
      const open = /^\s*(`{3,}|~{3,})/.exec(line);
      if (fence === null && open) {
        fence = open[1]![0]!.repeat(open[1]!.length);
        return "";
      }
      if (fence !== null) {
        if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, "") === "") fence = null;
        return "";
      }
      return line;
    })
    .join("\n");
}

function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)[\s\S]*?\1/g, "");
}

/** GitHub's heading anchor: lower case, punctuation dropped, each space a hyphen, repeats numbered. */
function githubSlug(heading: string, seen: Map<string, number>): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
  const count = seen.get(text) ?? 0;
  seen.set(text, count + 1);
  return count === 0 ? text : `${text}-${count}`;
}

const anchorCache = new Map<string, Set<string>>();

/** Every anchor a Markdown file offers: its ATX headings, slugged, and explicit `id`/`name` attributes. */
function anchorsOf(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (anchors) return anchors;
  anchors = new Set();
  const seen = new Map<string, number>();
  for (const line of withoutCodeBlocks(readFileSync(file, "utf8")).split("\n")) {
    const heading = /^#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (heading) anchors.add(githubSlug(heading[1]!, seen));
    for (const m of line.matchAll(/<a\s[^>]*(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

interface Link {
  line: number;
  target: string;
}

/** Inline links and images `[text](target "title")` and reference definitions `[label]: target`. */
function linksOf(text: string): Link[] {
  const links: Link[] = [];
  withoutCodeBlocks(text)
    .split("\n")
    .forEach((raw, i) => {
      const line = withoutCodeSpans(raw);
      for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g)) {
        links.push({ line: i + 1, target: m[1]!.replace(/^<|>$/g, "") });
      }
      const definition = /^\s{0,3}\[[^\]]+\]:\s*(\S+)/.exec(line);
      if (definition) links.push({ line: i + 1, target: definition[1]! });
    });
  return links;
}

/** Why a relative link is broken, or null when it resolves. External links (a scheme, `//`) are not checked. */
function brokenLink(from: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) return null;
  const hash = target.indexOf("#");
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved =
    pathPart === "" ? join(ROOT, from) : pathPart.startsWith("/") ? join(ROOT, pathPart) : resolve(dirname(join(ROOT, from)), pathPart);
  if (!resolved.startsWith(ROOT)) return `${target}: points outside the repository`;
  if (!existsSync(resolved)) return `${target}: no such file or folder (${relative(ROOT, resolved)})`;
  if (anchor !== undefined && resolved.endsWith(".md") && statSync(resolved).isFile() && !anchorsOf(resolved).has(anchor)) {
    return `${target}: ${relative(ROOT, resolved)} has no heading with the anchor #${anchor}`;
  }
  return null;
}

let allFiles: string[] | undefined;

/** Every file of the working tree (relative, with /), outside dependencies and build output. */
function treeFiles(): string[] {
  if (allFiles) return allFiles;
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (SKIPPED_DIRS.has(entry.name)) continue;
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk("");
  return (allFiles = out);
}

/** Whether a repository path exists; a `*` matches within one path segment and must match a file. */
function pathExists(path: string): boolean {
  if (!path.includes("*")) return existsSync(join(ROOT, path));
  const pattern = new RegExp(
    `^${path
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join("[^/]*")}$`,
  );
  return treeFiles().some((file) => pattern.test(file));
}

/** The capability map: the table under `## Capability map` in docs/architecture.md, header and separator dropped. */
function capabilityRows(): string[] {
  const text = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");
  const start = text.indexOf("\n## Capability map\n");
  expect(start, "docs/architecture.md has no '## Capability map' section").toBeGreaterThan(0);
  const section = text.slice(start + 1).split(/\n## /)[0]!;
  const table = section.split("\n").filter((line) => line.startsWith("|"));
  return table.slice(2);
}

/** Code spans of a table row that name repository paths (URL paths start with `/` and are left out). */
function repoPaths(row: string): string[] {
  return [...row.matchAll(/`([^`]+)`/g)]
    .map((m) => m[1]!)
    .filter((t) => !t.startsWith("/") && !/\s/.test(t) && /^[\w.-]+\/[\w.*/-]*$/.test(t));
}

describe("relative links in README.md and docs/", () => {
  it("finds the pages and their links", () => {
    expect(DOCS).toContain("docs/architecture.md");
    expect(DOCS.flatMap((file) => linksOf(readFileSync(join(ROOT, file), "utf8"))).length).toBeGreaterThan(20);
  });

  it.each(DOCS)("%s: every relative link resolves", (file) => {
    const broken = linksOf(readFileSync(join(ROOT, file), "utf8")).flatMap(({ line, target }) => {
      const why = brokenLink(file, target);
      return why === null ? [] : [`${file}:${line}: ${why}`];
    });
    expect(broken).toStrictEqual([]);
  });
});

describe("the capability map in docs/architecture.md", () => {
  it("names only paths that exist", () => {
    const rows = capabilityRows();
    expect(rows.length).toBeGreaterThanOrEqual(8);
    const paths = rows.flatMap(repoPaths);
    expect(paths.length).toBeGreaterThan(30);
    expect(paths.filter((path) => !pathExists(path))).toStrictEqual([]);
  });

  it("names every folder under src/", () => {
    const named = new Set(capabilityRows().flatMap(repoPaths));
    // Folders with files only: git keeps no empty folder, so a fresh clone has none.
    const folders = readdirSync(join(ROOT, "src"), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `src/${entry.name}/`)
      .filter((folder) => treeFiles().some((file) => file.startsWith(folder)));
    expect(folders.length).toBeGreaterThan(5);
    expect(folders.filter((folder) => !named.has(folder))).toStrictEqual([]);
  });
});

describe("GitHub heading anchors", () => {
  it("drop punctuation, keep hyphens and underscores, and number repeats", () => {
    const seen = new Map<string, number>();
    expect(githubSlug("Try a call between two tabs (no account)", seen)).toBe("try-a-call-between-two-tabs-no-account");
    expect(githubSlug("The call page: `GET /calls/{call_id}`", seen)).toBe("the-call-page-get-callscall_id");
    expect(githubSlug("Self-hosting today", seen)).toBe("self-hosting-today");
    expect(githubSlug("Tests", seen)).toBe("tests");
    expect(githubSlug("Tests", seen)).toBe("tests-1");
  });
});
