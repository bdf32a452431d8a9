/**
 * The tool and resource tables of docs/mcp.md, rendered from the registry. `npm run docs:mcp`
 * (scripts/mcp-docs.mjs) writes them between the page's markers, and a test fails when the page
 * differs from what this renders, so the documented list cannot drift from the served one.
 */
import { z } from "zod";
import { MCP_TOOLS } from "./registry";
import { MCP_RESOURCES } from "./resources";

/** Markdown table cell text: one line, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
}

function argumentList(schema: z.ZodType): string {
  const js = z.toJSONSchema(schema, { io: "input" }) as { properties?: Record<string, unknown>; required?: string[] };
  const names = Object.keys(js.properties ?? {});
  if (names.length === 0) return "—";
  return names.map((n) => (js.required?.includes(n) ? `**\`${n}\`**` : `\`${n}\``)).join(", ");
}

export function renderToolTable(): string {
  const rows = MCP_TOOLS.map(
    (t) => `| \`${t.name}\` | ${argumentList(t.input)} | ${cell(t.description)} | \`${t.mirrors}\` | \`${t.permission}\` |`,
  );
  return ["| tool | arguments (**required**) | what it does | mirrors | permission |", "| --- | --- | --- | --- | --- |", ...rows].join(
    "\n",
  );
}

export function renderResourceTable(): string {
  const rows = MCP_RESOURCES.map((r) => `| \`${r.uriTemplate}\` | ${cell(r.description)} | \`${r.mirrors}\` | \`${r.permission}\` |`);
  return ["| URI template | what it is | mirrors | permission |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** Each generated section of docs/mcp.md by its marker name. */
export function renderMcpDocSections(): Record<string, string> {
  return { "mcp-tools": renderToolTable(), "mcp-resources": renderResourceTable() };
}
