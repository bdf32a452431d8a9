/**
 * A built-in task's metadata is checked against its handler's input schema when the task is
 * created: a task that could only fail is refused (422 naming `metadata.<field>`), with nothing
 * stored and nothing queued. The schemas are published in the OpenAPI document.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, problem } from "../helpers/api";
import { createTask, listTasks, sleep, waitForStatus } from "../helpers/tasks";

afterEach(() => {
  vi.restoreAllMocks();
});

const AGENT = "input-checks";

async function prefixRows(agent: string): Promise<number> {
  return (await env.DB.prepare("SELECT count(*) AS n FROM task_id_prefixes WHERE agent_id = ?").bind(agent).first<{ n: number }>())!.n;
}

describe("built-in task input at creation", () => {
  it.each([
    ["data_analysis without data (the issue's example)", { task_type: "data_analysis", metadata: { values: [1, 2] } }, "metadata.data"],
    ["data_analysis with data of the wrong type", { task_type: "data_analysis", metadata: { data: 42 } }, "metadata.data"],
    ["data_analysis with an empty array", { task_type: "data_analysis", metadata: { data: [] } }, "metadata.data"],
    ["data_analysis objects without field", { task_type: "data_analysis", metadata: { data: [{ v: 1 }] } }, "metadata.field"],
    ["data_analysis plain values with a field", { task_type: "data_analysis", metadata: { data: [1, 2], field: "v" } }, "metadata.field"],
    ["delay without seconds", { task_type: "delay", metadata: {} }, "metadata.seconds"],
    ["delay over 300 s", { task_type: "delay", metadata: { seconds: 301 } }, "metadata.seconds"],
    ["http_request with a non-http URL", { task_type: "http_request", metadata: { url: "ftp://files.example/x" } }, "metadata.url"],
    [
      "http_request with a body on GET",
      { task_type: "http_request", metadata: { url: "https://api.example/x", body: "x" } },
      "metadata.body",
    ],
    [
      "http_request to a loopback target (the outbound policy)",
      { task_type: "http_request", metadata: { url: "http://127.0.0.1:9/x" } },
      "metadata.url",
    ],
    ["send_email without a recipient", { task_type: "send_email", metadata: { to: [], subject: "s", text: "t" } }, "metadata.to"],
    ["send_email without a body", { task_type: "send_email", metadata: { to: "a@example.com", subject: "s" } }, "metadata.text"],
    [
      "send_email as another agent",
      { task_type: "send_email", metadata: { to: ["a@example.com"], subject: "s", text: "t", agent_id: "someone-else" } },
      "metadata.agent_id",
    ],
  ])("%s → 422 naming the field; no task, no D1 row, nothing run", async (_name, body, field) => {
    const agent = `${AGENT}-${field.replace("metadata.", "")}`;
    const send = vi.spyOn(env.EMAIL, "send");
    const before = await prefixRows(agent);
    const doc = await problem(await call(`/api/v2/agents/${agent}/tasks`, { body }), 422);
    const errors = doc.errors as { path: string; message: string }[];
    expect(errors.map((e) => e.path)).toContain(field);
    expect(doc.detail).toContain(field);
    // A task that had been stored would have been dispatched and run by now.
    await sleep(200);
    expect((await listTasks(agent)).tasks).toEqual([]);
    expect(await prefixRows(agent)).toBe(before);
    expect(send).not.toHaveBeenCalled();
  });

  it("the prototype's form (?task_type= with the metadata as body) is checked the same way", async () => {
    const doc = await problem(
      await call(`/api/v2/agents/${AGENT}-legacy/tasks?task_type=data_analysis`, { body: { values: [1, 2] } }),
      422,
    );
    expect((doc.errors as { path: string }[]).map((e) => e.path)).toContain("metadata.data");
    expect((await listTasks(`${AGENT}-legacy`)).tasks).toEqual([]);
  });

  it("valid input is accepted as before, and stored as given (the handler's defaults are not written back)", async () => {
    const id = await createTask(AGENT, { task_type: "data_analysis", metadata: { data: [{ v: 1 }, { v: 3 }], field: " v " } });
    const done = await waitForStatus(id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", metadata: { data: [{ v: 1 }, { v: 3 }], field: " v " } });
    expect(done.result).toMatchObject({ count: 2, mean: 2 });
    // Types without a built-in handler take any metadata.
    expect(
      (await call(`/api/v2/agents/${AGENT}/tasks`, { body: { task_type: "render_video", metadata: { values: [1, 2] } } })).status,
    ).toBe(202);
  });

  it("the OpenAPI document publishes each built-in type's input schema and the create operation names them", async () => {
    const doc = await json<{
      components: {
        schemas: Record<string, { type?: string; required?: string[]; properties?: Record<string, unknown>; description?: string }>;
      };
      paths: Record<string, Record<string, { description?: string }>>;
    }>(await call("/openapi.json"));
    const schemas = doc.components.schemas;
    for (const type of ["data_analysis", "http_request", "noop", "delay", "send_email"]) {
      expect(schemas[`TaskInput_${type}`], type).toBeDefined();
    }
    expect(schemas.TaskInput_data_analysis).toMatchObject({ type: "object", required: ["data"] });
    expect(Object.keys(schemas.TaskInput_data_analysis!.properties!)).toEqual(["data", "field"]);
    expect(schemas.TaskInput_delay).toMatchObject({ type: "object", required: ["seconds"] });
    expect(schemas.TaskInput_http_request!.required).toContain("url");
    expect(schemas.TaskInput_send_email!.required).toContain("to");
    expect(schemas.TaskInput_send_email!.description).toContain("email:send");
    const create = doc.paths["/api/v2/agents/{agent_id}/tasks"]!.post!.description!;
    expect(create).toContain("TaskInput_data_analysis");
    expect(create).toMatch(/send_email.*email:send/);
  });
});
