/**
 * Tasks and instances survive a SIGKILL of the server (docs/tasks-and-scaling.md): an external task keeps its
 * status and progress and can be finished after the restart, a completed task keeps its result,
 * the agent keeps its instances, and the queue runs new tasks again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, eventually, mintJwt, type Client } from "./helpers/http";
import { startLocalServer, type LocalServer } from "./helpers/local-server";

const AGENT = "tasks-durable";
let server: LocalServer;
let api: Client;
let token: string;

beforeAll(async () => {
  server = await startLocalServer();
  token = await mintJwt(server.jwtSecret, { sub: "tasks-durability", role: "developer" });
  api = client(server.baseUrl, token);
});

afterAll(async () => {
  await server?.dispose();
});

async function progress(taskId: string, body: Record<string, unknown>) {
  const res = await fetch(`${server.baseUrl}/api/v2/tasks/${taskId}/progress`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function completed(taskId: string): Promise<boolean> {
  return eventually(async () => (await api.get(`/api/v2/tasks/${taskId}`)).body?.status === "completed", 20_000);
}

describe("tasks survive a SIGKILL of the server", () => {
  it("keeps external and finished tasks and the instances, and runs new tasks after the restart", async () => {
    const external = (await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "render_video", metadata: { clip: 7 } })).body
      .task_id as string;
    expect((await progress(external, { progress: 40, message: "halfway" })).status).toBe(200);
    const noop = (await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "noop" })).body.task_id as string;
    expect(await completed(noop)).toBe(true);
    expect((await api.post(`/api/v2/agents/${AGENT}/scale`, { target_instances: 3 })).status).toBe(200);
    const before = (await api.get(`/api/v2/tasks/${external}`)).body;

    // The restarted server replaces the killed one (same port, same folder); afterAll disposes it.
    server = await server.restart("SIGKILL");

    expect((await api.get(`/api/v2/tasks/${external}`)).body).toEqual(before);
    expect((await api.get(`/api/v2/tasks/${noop}`)).body).toMatchObject({ status: "completed", result: { ok: true }, attempts: 1 });
    expect((await api.get(`/api/v2/agents/${AGENT}/metrics`)).body).toMatchObject({ total_instances: 3 });

    expect((await progress(external, { progress: 80 })).body).toMatchObject({ status: "running", progress: 80 });
    expect((await api.post(`/api/v2/tasks/${external}/complete`, { result: { frames: 240 } })).body).toMatchObject({
      status: "completed",
      result: { frames: 240 },
    });
    const after = (await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "noop" })).body.task_id as string;
    expect(await completed(after)).toBe(true);
  });
});
