/**
 * docs/mcp.md lists the MCP tools and resources as the registry declares them: the tables between
 * its markers must be exactly what `npm run docs:mcp` renders from src/mcp/ (no server needed).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MCP_DOC, renderSections, withSections } from "../../scripts/lib/mcp-docs.mjs";

describe("docs/mcp.md", () => {
  it("its tool and resource tables match the registry (run npm run docs:mcp after changing a tool)", async () => {
    const current = readFileSync(MCP_DOC, "utf8");
    const sections = await renderSections();
    expect(Object.keys(sections).sort()).toEqual(["mcp-resources", "mcp-tools"]);
    expect(sections["mcp-tools"]).toContain("| `save_agent_state` |");
    expect(withSections(current, sections)).toBe(current);
  });
});
