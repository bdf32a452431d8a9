/**
 * The Agents SDK peer for `npm run bench`: the product's state save and load written the way the
 * Agents SDK documents it (npm `agents`, version pinned in package.json). A Worker route gets the
 * agent named in the path with `getAgentByName` and calls one RPC method on it; the method does
 * `this.setState(state)` (save) or returns `this.state` (load). The SDK stores the state in the
 * Agent's own SQLite and would broadcast it to connected clients (none here).
 *
 * `getAgentByName` makes one RPC call to the agent (`__unsafe_ensureInitialized`) before the
 * method call: that is the SDK's documented way to reach an agent from a Worker, so it is part of
 * what is measured. Same Hono router and body handling as the baseline (bench/baseline/index.ts):
 * the SDK's Durable Object side is the only difference.
 */
import { Agent, getAgentByName } from "agents";
import { Hono } from "hono";

interface SdkEnv {
  STATE_AGENT: DurableObjectNamespace<StateAgent>;
}

type AgentState = Record<string, unknown> | null;

export class StateAgent extends Agent<SdkEnv, AgentState> {
  override initialState: AgentState = null;

  save(state: Record<string, unknown>): void {
    this.setState(state);
  }

  load(): AgentState {
    return this.state;
  }
}

const app = new Hono<{ Bindings: SdkEnv }>();

app.get("/", (c) => c.text("agents-sdk peer ok"));

app.post("/agents/:id/state", async (c) => {
  const id = c.req.param("id");
  const body = await c.req.json<{ state_data: Record<string, unknown> }>();
  const agent = await getAgentByName(c.env.STATE_AGENT, id);
  await agent.save(body.state_data);
  return c.json({ success: true, agent_id: id });
});

app.get("/agents/:id/state", async (c) => {
  const id = c.req.param("id");
  const agent = await getAgentByName(c.env.STATE_AGENT, id);
  const state = await agent.load();
  if (state === null) return c.json({ error: "not found" }, 404);
  return c.json({ agent_id: id, state_data: state });
});

export default { fetch: app.fetch } satisfies ExportedHandler<SdkEnv>;
