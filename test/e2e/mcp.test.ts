/**
 * The MCP server at /mcp (docs/mcp.md), end to end against `wrangler dev --local`, through the
 * official SDK's own client (`Client` + `StreamableHTTPClientTransport`) and the MCP Inspector's
 * CLI, as a user would connect. Every tool is called once and its effect read back through the
 * HTTP API; refusals (another agent, a weaker role, bad arguments, no credential, a foreign
 * Origin) are tool errors or HTTP 4xx, and the data read over HTTP afterwards is unchanged.
 * Speech goes to a local OpenAI-compatible fake (SPEECH_BASE_URL); mail to wrangler's local
 * `send_email` binding.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LATEST_PROTOCOL_VERSION, McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeSpeech, type FakeSpeech } from "./browser/fake-speech.ts";
import { client as httpClient, eventually, mintJwt, type Client as HttpClient } from "./helpers/http";
import { PROJECT_ROOT, nodeBinary, startLocalServer, type LocalServer } from "./helpers/local-server";

const TOOLS = [
  "save_agent_state",
  "load_agent_state",
  "list_agents",
  "list_state_versions",
  "restore_agent_state",
  "create_task",
  "get_task",
  "update_task_progress",
  "cancel_task",
  "list_tasks",
  "scale_agent",
  "get_agent_metrics",
  "request_approval",
  "get_approval",
  "send_email",
  "create_call",
  "speak_in_call",
  "generate_deployment",
];
const ALLOWED_ORIGIN = "http://allowed.example";
const AGENT = "mcp-main";
const OWN = "mcp-own";
const OTHER = "mcp-other";

let server: LocalServer | undefined;
let speech: FakeSpeech | undefined;
let http: HttpClient;
let mcp: Client;
const opened: Client[] = [];

async function connect(token: string, name = "dmsa-e2e"): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name, version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${server!.baseUrl}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  opened.push(client);
  return { client, transport };
}

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");
}

/** The text of a resource read with one text content. */
function resourceText(read: { contents: ({ text: string } | { blob: string })[] }): string {
  expect(read.contents).toHaveLength(1);
  const [content] = read.contents;
  if (!content || !("text" in content)) throw new Error("expected a text resource");
  return content.text;
}

/** Calls a tool that must succeed; returns its structured content. */
async function ok(client: Client, name: string, args: Record<string, unknown>): Promise<any> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  expect(result.isError, `${name}: ${textOf(result)}`).toBeFalsy();
  expect(result.structuredContent).toBeDefined();
  // The text content is the same JSON, for clients that only read text.
  expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);
  return result.structuredContent;
}

/** Calls a tool that must be refused with a problem; returns the problem document. */
async function refused(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  expect(result.isError, `${name} should be refused: ${textOf(result)}`).toBe(true);
  expect(result.structuredContent).toBeUndefined();
  const problem = JSON.parse(textOf(result)) as Record<string, any>;
  expect(typeof problem.code).toBe("string");
  expect(typeof problem.detail).toBe("string");
  expect(problem.type).toBe(`/problems/${problem.code}`);
  return problem;
}

/** A tool error from the SDK's own argument check (the schema refused the arguments). */
async function badArguments(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  expect(result.isError, `${name} should refuse its arguments: ${textOf(result)}`).toBe(true);
  expect(textOf(result)).toMatch(/Input validation error/);
  return textOf(result);
}

/** A raw POST to /mcp (an initialize request unless told), for the HTTP-level checks. */
function rawPost(headers: Record<string, string>, body: unknown = initializeRequest()): Promise<Response> {
  return fetch(`${server!.baseUrl}/mcp`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
}

function initializeRequest() {
  return {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  };
}

let developerToken: string;
let limitedToken: string;
let guestToken: string;

beforeAll(async () => {
  speech = await startFakeSpeech({ durationSeconds: 0.2 });
  server = await startLocalServer({ vars: { SPEECH_BASE_URL: speech.baseUrl, CORS_ALLOWED_ORIGINS: ALLOWED_ORIGIN } });
  developerToken = await mintJwt(server.jwtSecret, { sub: "mcp-e2e", role: "developer" });
  limitedToken = await mintJwt(server.jwtSecret, { sub: "mcp-limited", role: "developer", agents: [OWN] });
  guestToken = await mintJwt(server.jwtSecret, { sub: "mcp-guest", role: "guest" });
  http = httpClient(server.baseUrl, developerToken);
  mcp = (await connect(developerToken)).client;
});

afterAll(async () => {
  await Promise.allSettled(opened.map((c) => c.close()));
  await server?.dispose();
  await speech?.close();
});

describe("connecting", () => {
  it("initializes over the current protocol revision, stateless (no session id)", async () => {
    const { client, transport } = await connect(developerToken, "init-check");
    expect(transport.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    expect(transport.sessionId).toBeUndefined();
    expect(client.getServerVersion()?.name).toBe("datamcpserveragent");
    const capabilities = client.getServerCapabilities();
    expect(capabilities?.tools).toBeDefined();
    expect(capabilities?.resources).toBeDefined();
    expect(client.getInstructions()).toMatch(/problem document/);
  });

  it("lists exactly the tools, each with a description, an input schema and an output schema", async () => {
    const { tools } = await mcp.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOLS].sort());
    for (const tool of tools) {
      expect(tool.description?.length, tool.name).toBeGreaterThan(60);
      expect(tool.inputSchema.type, tool.name).toBe("object");
      expect(Object.keys(tool.inputSchema.properties ?? {}).length, tool.name).toBeGreaterThan(0);
      expect(tool.outputSchema?.type, tool.name).toBe("object");
      expect(Object.keys(tool.outputSchema?.properties ?? {}).length, tool.name).toBeGreaterThan(0);
    }
    const save = tools.find((t) => t.name === "save_agent_state")!;
    expect(save.inputSchema.required).toEqual(expect.arrayContaining(["agent_id", "state_data"]));
  });

  it("lists the resource templates agent://{agent_id}/state and task://{task_id}", async () => {
    const { resourceTemplates } = await mcp.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual(["agent://{agent_id}/state", "task://{task_id}"]);
  });
});

describe("every tool, its effect read back over HTTP", () => {
  let taskId: string;

  it("save_agent_state, load_agent_state, list_state_versions, restore_agent_state, list_agents", async () => {
    const first = await ok(mcp, "save_agent_state", { agent_id: AGENT, state_data: { step: 1, notes: ["a"] }, agent_type: "worker" });
    expect(first).toMatchObject({ success: true, agent_id: AGENT, version: 1 });
    const stored = await http.get(`/api/v2/agents/${AGENT}/state`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ state_data: { step: 1, notes: ["a"] }, version: 1, agent_type: "worker" });

    expect((await ok(mcp, "save_agent_state", { agent_id: AGENT, state_data: { step: 2 }, expected_version: 1 })).version).toBe(2);
    expect(await ok(mcp, "load_agent_state", { agent_id: AGENT })).toEqual((await http.get(`/api/v2/agents/${AGENT}/state`)).body);

    const versions = await ok(mcp, "list_state_versions", { agent_id: AGENT });
    expect(versions).toEqual((await http.get(`/api/v2/agents/${AGENT}/state/versions`)).body);
    expect(versions.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);

    const restored = await ok(mcp, "restore_agent_state", { agent_id: AGENT, version: 1 });
    expect(restored).toMatchObject({ version: 3, restored_from: 1 });
    expect((await http.get(`/api/v2/agents/${AGENT}/state`)).body).toMatchObject({
      version: 3,
      state_data: { step: 1, notes: ["a"] },
      restored_from: 1,
    });

    // The list comes from the D1 index, written when an agent appears (moments after its first save).
    const listed = await eventually(async () => {
      const page = await ok(mcp, "list_agents", { limit: 100 });
      return page.agents.some((a: { agent_id: string; version: number }) => a.agent_id === AGENT && a.version === 3);
    }, 15_000);
    expect(listed).toBe(true);
    const viaHttp = (await http.get("/api/v2/agents?limit=100")).body;
    expect(viaHttp.agents.find((a: { agent_id: string }) => a.agent_id === AGENT)).toMatchObject({ version: 3, agent_type: "worker" });
  });

  it("a stale expected_version is a tool error carrying precondition_failed, detail and current_version; nothing saved", async () => {
    const problem = await refused(mcp, "save_agent_state", { agent_id: AGENT, state_data: { lost: true }, expected_version: 1 });
    expect(problem).toMatchObject({ code: "precondition_failed", status: 412, current_version: 3 });
    expect(problem.detail).toMatch(/version 3/);
    expect((await http.get(`/api/v2/agents/${AGENT}/state`)).body.version).toBe(3);
  });

  it("create_task, get_task, update_task_progress, list_tasks, cancel_task", async () => {
    const created = await ok(mcp, "create_task", {
      agent_id: AGENT,
      task_type: "mcp-external-job",
      metadata: { n: 1 },
      idempotency_key: "mcp-1",
    });
    expect(created).toMatchObject({ success: true, agent_id: AGENT, task_type: "mcp-external-job", status: "pending" });
    taskId = created.task_id;
    expect((await http.get(`/api/v2/tasks/${taskId}`)).body).toMatchObject({ status: "pending", metadata: { n: 1 } });
    // The same idempotency key returns the first task.
    expect((await ok(mcp, "create_task", { agent_id: AGENT, task_type: "mcp-external-job", idempotency_key: "mcp-1" })).task_id).toBe(
      taskId,
    );

    expect(await ok(mcp, "get_task", { task_id: taskId })).toEqual((await http.get(`/api/v2/tasks/${taskId}`)).body);

    const progressed = await ok(mcp, "update_task_progress", { task_id: taskId, progress: 40, message: "halfway there" });
    expect(progressed).toMatchObject({ status: "running", progress: 40, progress_message: "halfway there" });
    expect((await http.get(`/api/v2/tasks/${taskId}`)).body).toMatchObject({ status: "running", progress: 40 });

    const page = await ok(mcp, "list_tasks", { agent_id: AGENT, status: "running" });
    expect(page.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([taskId]);
    expect(page).toEqual((await http.get(`/api/v2/agents/${AGENT}/tasks?status=running`)).body);

    expect(await ok(mcp, "cancel_task", { task_id: taskId })).toMatchObject({ status: "cancelled" });
    expect((await http.get(`/api/v2/tasks/${taskId}`)).body.status).toBe("cancelled");
    const again = await refused(mcp, "cancel_task", { task_id: taskId });
    expect(again).toMatchObject({ code: "conflict", status: 409 });
  });

  it("scale_agent and get_agent_metrics", async () => {
    expect(await ok(mcp, "scale_agent", { agent_id: AGENT, target_instances: 2 })).toMatchObject({
      success: true,
      target_instances: 2,
      current_instances: 2,
    });
    const viaHttp = (await http.get(`/api/v2/agents/${AGENT}/metrics`)).body;
    expect(viaHttp.active_instances).toBe(2);
    const metrics = await ok(mcp, "get_agent_metrics", { agent_id: AGENT });
    expect(metrics).toMatchObject({ agent_id: AGENT, active_instances: 2, total_instances: viaHttp.total_instances });
    expect(metrics.instances.map((i: { instance_id: string }) => i.instance_id)).toEqual(
      viaHttp.instances.map((i: { instance_id: string }) => i.instance_id),
    );
  });

  it("request_approval and get_approval", async () => {
    const created = await ok(mcp, "request_approval", {
      agent_id: AGENT,
      title: "Publish the report?",
      description: "The agent wants to publish.",
      approver_email: "boss@example.com",
      data: { report: "q3" },
    });
    expect(created).toMatchObject({ success: true, status: "pending", email: { status: "sent" } });
    const viaHttp = await http.get(`/api/v2/email/approval/${created.approval_id}`);
    expect(viaHttp.status).toBe(200);
    expect(viaHttp.body).toMatchObject({ agent_id: AGENT, status: "pending", approver_email: "boss@example.com", data: { report: "q3" } });
    expect(await ok(mcp, "get_approval", { approval_id: created.approval_id })).toEqual(viaHttp.body);
  });

  it("send_email", async () => {
    const sent = await ok(mcp, "send_email", {
      agent_id: AGENT,
      to: ["reader@example.com"],
      subject: "Report ready",
      text: "The Q3 report is ready.",
    });
    expect(sent).toMatchObject({ success: true, status: "sent", provider: "cloudflare", agent_id: AGENT });
    const logged = await http.get(`/api/v2/email/messages/${sent.message_id}`);
    expect(logged.status).toBe(200);
    expect(logged.body).toMatchObject({
      status: "sent",
      to: ["reader@example.com"],
      subject: "Report ready",
      text: "The Q3 report is ready.",
    });
  });

  it("create_call and speak_in_call (speech from the local fake server)", async () => {
    const call = await ok(mcp, "create_call", { agent_id: AGENT, user_id: "caller-1" });
    expect(call).toMatchObject({ agent_id: AGENT, status: "pending", user_id: "caller-1" });
    expect((await http.get(`/api/v2/calls/${call.call_id}`)).body).toMatchObject({ call_id: call.call_id, status: "pending" });

    const spoken = await ok(mcp, "speak_in_call", { call_id: call.call_id, text: "Hello from the agent." });
    expect(spoken).toMatchObject({
      success: true,
      content_type: "audio/wav",
      transcript_line: { text: "Hello from the agent.", source: "text_to_speech" },
    });
    expect(spoken.bytes).toBeGreaterThan(44);
    expect(speech!.requests.map((r) => r.input)).toContain("Hello from the agent.");
    const transcript = (await http.get(`/api/v2/calls/${call.call_id}`)).body.transcript as { text: string }[];
    expect(transcript.map((l) => l.text)).toContain("Hello from the agent.");
  });

  it("generate_deployment: an admin gets the route's files; a developer is refused", async () => {
    const adminToken = await mintJwt(server!.jwtSecret, { sub: "mcp-admin", role: "admin" });
    const { client: admin } = await connect(adminToken, "admin");
    const options = { domain: "agents.acme.test", storage_size: "8Gi" };
    const bundle = await ok(admin, "generate_deployment", { env: "staging", ...options });
    const viaHttp = await httpClient(server!.baseUrl, adminToken).get("/api/v2/deploy/staging?domain=agents.acme.test&storage_size=8Gi");
    expect(viaHttp.status).toBe(200);
    expect(bundle).toEqual(viaHttp.body);
    expect(bundle.files.map((f: { path: string }) => f.path)).toContain("kubernetes/statefulset.yaml");
    await badArguments(admin, "generate_deployment", { env: "staging", storage_size: "10GB" });
    await badArguments(admin, "generate_deployment", { env: "qa" });
    expect((await refused(mcp, "generate_deployment", { env: "staging" })).code).toBe("forbidden");
  });

  it("reads the resources agent://{agent_id}/state and task://{task_id} as the HTTP API shows them", async () => {
    const state = await mcp.readResource({ uri: `agent://${AGENT}/state` });
    expect(state.contents).toHaveLength(1);
    expect(state.contents[0]!.mimeType).toBe("application/json");
    expect(JSON.parse(resourceText(state))).toEqual((await http.get(`/api/v2/agents/${AGENT}/state`)).body);
    const task = await mcp.readResource({ uri: `task://${taskId}` });
    expect(JSON.parse(resourceText(task))).toEqual((await http.get(`/api/v2/tasks/${taskId}`)).body);

    const missing = await mcp.readResource({ uri: "agent://mcp-never-saved/state" }).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(McpError);
    expect((missing as McpError).code).toBe(-32002);
    expect((missing as McpError).data).toMatchObject({ code: "not_found", status: 404 });
  });
});

describe("refusals change nothing", () => {
  it("a credential limited to one agent cannot touch another through any tool or resource", async () => {
    const { client: limited } = await connect(limitedToken, "limited");
    // Its own agent works.
    expect((await ok(limited, "save_agent_state", { agent_id: OWN, state_data: { mine: true } })).version).toBe(1);

    expect(await refused(limited, "save_agent_state", { agent_id: OTHER, state_data: { x: 1 } })).toMatchObject({
      code: "forbidden",
      status: 403,
    });
    expect((await http.get(`/api/v2/agents/${OTHER}/state`)).status).toBe(404);

    const before = (await http.get(`/api/v2/agents/${AGENT}/state`)).body;
    expect((await refused(limited, "save_agent_state", { agent_id: AGENT, state_data: { x: 1 } })).code).toBe("forbidden");
    expect((await refused(limited, "restore_agent_state", { agent_id: AGENT, version: 2 })).code).toBe("forbidden");
    expect((await refused(limited, "load_agent_state", { agent_id: AGENT })).code).toBe("forbidden");
    expect((await http.get(`/api/v2/agents/${AGENT}/state`)).body).toEqual(before);

    const task = await http.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "mcp-other-job" });
    expect(task.status).toBe(202);
    const otherTask: string = task.body.task_id;
    expect((await refused(limited, "get_task", { task_id: otherTask })).code).toBe("forbidden");
    expect((await refused(limited, "update_task_progress", { task_id: otherTask, progress: 90 })).code).toBe("forbidden");
    expect((await refused(limited, "cancel_task", { task_id: otherTask })).code).toBe("forbidden");
    expect((await refused(limited, "create_task", { agent_id: AGENT, task_type: "mcp-job" })).code).toBe("forbidden");
    expect((await http.get(`/api/v2/tasks/${otherTask}`)).body).toMatchObject({ status: "pending", progress: 0 });
    expect(
      (await http.get(`/api/v2/agents/${AGENT}/tasks?limit=100`)).body.tasks.map((t: { task_type: string }) => t.task_type),
    ).not.toContain("mcp-job");

    expect((await refused(limited, "scale_agent", { agent_id: AGENT, target_instances: 5 })).code).toBe("forbidden");
    expect((await http.get(`/api/v2/agents/${AGENT}/metrics`)).body.active_instances).toBe(2);

    const mailBefore = (await http.get(`/api/v2/email/messages?agent_id=${AGENT}&limit=100`)).body.messages.length;
    expect((await refused(limited, "send_email", { agent_id: AGENT, to: ["x@example.com"], subject: "s", text: "t" })).code).toBe(
      "forbidden",
    );
    expect(
      (
        await refused(limited, "request_approval", {
          agent_id: AGENT,
          title: "t",
          description: "d",
          approver_email: "boss@example.com",
        })
      ).code,
    ).toBe("forbidden");
    expect((await http.get(`/api/v2/email/messages?agent_id=${AGENT}&limit=100`)).body.messages.length).toBe(mailBefore);
    expect((await refused(limited, "create_call", { agent_id: AGENT })).code).toBe("forbidden");

    // Listing shows only its own agent.
    const agents = await ok(limited, "list_agents", { limit: 100 });
    expect(agents.agents.every((a: { agent_id: string }) => a.agent_id === OWN)).toBe(true);

    const resource = await limited.readResource({ uri: `agent://${AGENT}/state` }).catch((err: unknown) => err);
    expect(resource).toBeInstanceOf(McpError);
    expect((resource as McpError).data).toMatchObject({ code: "forbidden", status: 403 });
  });

  it("a role without the permission is refused (guest cannot save), nothing stored", async () => {
    const { client: guest } = await connect(guestToken, "guest");
    const problem = await refused(guest, "save_agent_state", { agent_id: "mcp-guest-agent", state_data: { x: 1 } });
    expect(problem).toMatchObject({ code: "forbidden", status: 403 });
    expect(problem.detail).toMatch(/state:write/);
    expect((await http.get("/api/v2/agents/mcp-guest-agent/state")).status).toBe(404);
    // What the role may do still works.
    expect((await ok(guest, "load_agent_state", { agent_id: AGENT })).agent_id).toBe(AGENT);
  });

  it("bad arguments are a tool error and change nothing", async () => {
    const before = (await http.get(`/api/v2/agents/${AGENT}/state`)).body;
    expect(await badArguments(mcp, "save_agent_state", { agent_id: AGENT, state_data: "not an object" })).toMatch(/state_data/);
    await badArguments(mcp, "save_agent_state", { agent_id: AGENT, state_data: { a: 1 }, surprise: true });
    await badArguments(mcp, "save_agent_state", { agent_id: "bad id with spaces", state_data: { a: 1 } });
    await badArguments(mcp, "scale_agent", { agent_id: AGENT, target_instances: -1 });
    expect((await http.get(`/api/v2/agents/${AGENT}/state`)).body).toEqual(before);
    expect((await http.get(`/api/v2/agents/${AGENT}/metrics`)).body.active_instances).toBe(2);
    // A check the service makes (MAX_INSTANCES) is a problem with its code.
    expect((await refused(mcp, "scale_agent", { agent_id: AGENT, target_instances: 999 })).code).toBe("validation_failed");
    expect(await refused(mcp, "get_task", { task_id: `task_${"0".repeat(32)}` })).toMatchObject({ code: "not_found", status: 404 });
  });

  it("no credential: 401 with WWW-Authenticate; an invalid one: 401 invalid_token", async () => {
    const none = await rawPost({});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
    expect(none.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(((await none.json()) as { code: string }).code).toBe("unauthenticated");

    const bad = await rawPost({ Authorization: "Bearer not-a-token" });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);

    const client = new Client({ name: "anonymous", version: "1" });
    await expect(client.connect(new StreamableHTTPClientTransport(new URL(`${server!.baseUrl}/mcp`)))).rejects.toThrow();
  });

  it("an Origin outside CORS_ALLOWED_ORIGINS is 403 before anything runs; a listed one is served", async () => {
    const foreign = await rawPost(
      { Authorization: `Bearer ${developerToken}`, Origin: "http://evil.example" },
      {
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "save_agent_state", arguments: { agent_id: "mcp-origin", state_data: { x: 1 } } },
      },
    );
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { code: string }).code).toBe("forbidden");
    expect((await http.get("/api/v2/agents/mcp-origin/state")).status).toBe(404);
    // Refused before authentication: even without a credential it is 403, not 401.
    expect((await rawPost({ Origin: "http://evil.example" })).status).toBe(403);

    const listed = await rawPost({ Authorization: `Bearer ${developerToken}`, Origin: ALLOWED_ORIGIN });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(((await listed.json()) as { result: { protocolVersion: string } }).result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
  });

  it("GET and DELETE /mcp are 405 with Allow: POST (stateless: no stream, no session)", async () => {
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(`${server!.baseUrl}/mcp`, {
        method,
        headers: { Authorization: `Bearer ${developerToken}`, Accept: "text/event-stream" },
      });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(res.headers.get("mcp-session-id")).toBeNull();
    }
  });
});

describe("the MCP Inspector's CLI", () => {
  it("lists the tools against the local server, as a user would check it", async () => {
    // `npx @modelcontextprotocol/inspector --cli …`: the package's own bin, run by the Node 22 the tests use.
    const pkgDir = join(PROJECT_ROOT, "node_modules/@modelcontextprotocol/inspector");
    const bin = (JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { bin: Record<string, string> }).bin["mcp-inspector"]!;
    const args = [
      "--cli",
      `${server!.baseUrl}/mcp`,
      "--transport",
      "http",
      "--method",
      "tools/list",
      "--header",
      `Authorization: Bearer ${developerToken}`,
    ];
    // Its catalog and secrets go to a temporary home, not the user's ~/.mcp-inspector.
    const home = mkdtempSync(join(tmpdir(), "dmsa-inspector-"));
    try {
      const child = spawn(nodeBinary(), [join(pkgDir, bin), ...args], {
        cwd: home,
        env: { ...process.env, HOME: home, MCP_CATALOG_PATH: join(home, "mcp.json") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((done) => child.once("exit", (c) => done(c)));
      expect(code, `${stderr}\n${stdout}`).toBe(0);
      const listed = JSON.parse(stdout) as { tools: { name: string; inputSchema: { type: string } }[] };
      expect(listed.tools.map((t) => t.name).sort()).toEqual([...TOOLS].sort());
      for (const tool of listed.tools) expect(tool.inputSchema.type).toBe("object");
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
