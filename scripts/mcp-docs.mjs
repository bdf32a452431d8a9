// npm run docs:mcp: writes the MCP tool and resource tables of docs/mcp.md from the registry
// (src/mcp/registry.ts, src/mcp/resources.ts). With --check it writes nothing and exits 1 when
// the page differs from the registry (test/e2e/mcp-docs.test.ts checks the same on every npm test).
import { readFileSync, writeFileSync } from "node:fs";
import { MCP_DOC, renderSections, withSections } from "./lib/mcp-docs.mjs";

const current = readFileSync(MCP_DOC, "utf8");
const wanted = withSections(current, await renderSections());
if (process.argv.includes("--check")) {
  if (wanted !== current) {
    console.error("docs/mcp.md is out of date with the MCP registry: run npm run docs:mcp");
    process.exit(1);
  }
  console.log("docs/mcp.md matches the MCP registry");
} else if (wanted === current) {
  console.log("docs/mcp.md is up to date");
} else {
  writeFileSync(MCP_DOC, wanted);
  console.log("docs/mcp.md: tool and resource tables rewritten from the registry");
}
