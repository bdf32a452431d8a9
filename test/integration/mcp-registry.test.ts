/**
 * The MCP registry mirrors the HTTP routes (docs/mcp.md): every tool and resource names a route
 * the app declares, needs exactly that route's permission, and takes each id the route's path
 * takes as a required argument; `/mcp` itself is in the OpenAPI document, for any credential.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../../src/app";
import { routesOf } from "../../src/http/route";
import { MCP_TOOLS } from "../../src/mcp/registry";
import { MCP_RESOURCES } from "../../src/mcp/resources";
import { call, json } from "../helpers/api";

const routes = routesOf(createApp());

/** The declared route for `METHOD /path` (OpenAPI path syntax). */
function routeFor(mirrors: string) {
  const [method, path] = mirrors.split(" ") as [string, string];
  return routes.find((r) => r.method === method.toLowerCase() && r.path.replace(/:(\w+)/g, "{$1}") === path);
}

function pathIds(mirrors: string): string[] {
  return [...mirrors.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
}

describe("MCP tools mirror routes", () => {
  it("names are unique snake_case", () => {
    const names = MCP_TOOLS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z]+(?:_[a-z]+)+$/);
  });

  it.each(MCP_TOOLS.map((t) => [t.name, t] as const))("%s: the mirrored route exists and needs the same permission", (_name, tool) => {
    const route = routeFor(tool.mirrors);
    expect(route, `no route ${tool.mirrors}`).toBeDefined();
    expect(tool.permission).toBe(route!.permission);
  });

  it.each(MCP_TOOLS.map((t) => [t.name, t] as const))("%s: takes the route's path ids as required arguments", (_name, tool) => {
    const input = z.toJSONSchema(tool.input, { io: "input" }) as { required?: string[]; additionalProperties?: unknown };
    for (const id of pathIds(tool.mirrors)) expect(input.required, id).toContain(id);
    // Unknown arguments are refused, not ignored.
    expect(input.additionalProperties).toBe(false);
  });

  it.each(MCP_RESOURCES.map((r) => [r.uriTemplate, r] as const))(
    "%s: mirrors its route with the same permission and ids",
    (_uri, resource) => {
      const route = routeFor(resource.mirrors);
      expect(route, `no route ${resource.mirrors}`).toBeDefined();
      expect(resource.permission).toBe(route!.permission);
      expect(pathIds(resource.uriTemplate)).toEqual(pathIds(resource.mirrors));
    },
  );
});

describe("/mcp in the OpenAPI document", () => {
  it("is a POST for any valid credential (each tool checks its own permission)", async () => {
    const doc = await json<{ paths: Record<string, Record<string, Record<string, unknown>>> }>(
      await call("/openapi.json", { token: null }),
    );
    const op = doc.paths["/mcp"]?.post;
    expect(op?.operationId).toBe("mcp");
    expect(op).not.toHaveProperty("x-required-permission");
    expect(op).not.toHaveProperty("security");
    expect(Object.keys(op?.responses as object)).toEqual(expect.arrayContaining(["200", "202", "401", "403"]));
  });
});
