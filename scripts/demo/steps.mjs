// The demo's walk through every capability, in the order a person would try them. Each step
// prints its title, the requests it makes (">") and the essential of each answer ("<"); the
// first request that fails ends the walk with a DemoFailure.
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_ROOT } from "../lib/local-server.mjs";
import { DemoFailure } from "./client.mjs";
import { progressBar } from "./progress.mjs";

/** @typedef {import("./client.mjs").DemoClient} DemoClient */
/** @typedef {{ client: DemoClient, out: NodeJS.WriteStream, agentId: string, say: (line: string) => void, ask: (method: string, path: string) => void }} StepContext */

/** Values in the task step's data set: enough for several progress reports (one per 10,000). */
const TASK_VALUES = 60_000;
/** Where a local `wrangler dev` keeps the mail its send_email binding sent, whatever --persist-to says. */
const LOCAL_MAIL = join(PROJECT_ROOT, ".wrangler/tmp/email");

/** @type {{ title: string, run: (ctx: StepContext) => Promise<void> }[]} */
export const STEPS = [
  { title: "Health", run: health },
  { title: "Save state", run: save },
  { title: "Load state", run: load },
  { title: "History", run: history },
  { title: "Restore (If-Match)", run: restore },
  { title: "A data_analysis task, live", run: task },
  { title: "Scaling and metrics", run: scaling },
  { title: "Approval by mail, decided through its link", run: approval },
  { title: "A call with two participants", run: call },
  { title: "Deployment files", run: deployment },
];

/** @returns {string} an agent id of its own for this run, so runs against one server never meet */
export function demoAgentId() {
  return `demo-${randomBytes(4).toString("hex")}`;
}

/** @param {StepContext} ctx */
async function health({ client, say, ask }) {
  ask("GET", "/health");
  const { body } = await client.request("GET", "/health", { auth: false, accept: (s) => s === 200 || s === 503 });
  const on = Object.entries(body.features ?? {})
    .filter(([, v]) => v === true)
    .map(([k]) => k);
  say(`${body.status}, version ${body.version}; features on: ${on.join(", ") || "none"}`);
}

/** @param {StepContext} ctx */
async function save({ client, agentId, say, ask }) {
  const path = `/api/v2/agents/${agentId}/state`;
  ask("POST", `${path}  {"step": 1, "topic": "sales"}`);
  const first = await client.request("POST", path, { body: { agent_type: "analytics", state_data: { step: 1, topic: "sales" } } });
  say(`saved version ${first.body.version}`);
  ask("POST", `${path}  If-Match: "${first.body.version}"  {"step": 2, "topic": "sales"}`);
  const second = await client.request("POST", path, {
    body: { state_data: { step: 2, topic: "sales" } },
    headers: { "If-Match": `"${first.body.version}"` },
  });
  say(`saved version ${second.body.version}`);
}

/** @param {StepContext} ctx */
async function load({ client, agentId, say, ask }) {
  const path = `/api/v2/agents/${agentId}/state`;
  ask("GET", path);
  const { body, headers } = await client.request("GET", path);
  say(`version ${body.version} (ETag ${headers.get("etag")}): ${JSON.stringify(body.state_data)}`);
}

/** @param {StepContext} ctx */
async function history({ client, agentId, say, ask }) {
  const path = `/api/v2/agents/${agentId}/state/versions`;
  ask("GET", path);
  const { body } = await client.request("GET", path);
  const versions = /** @type {{ version: number }[]} */ (body.versions).map((v) => v.version);
  say(`current version ${body.current_version}; versions ${versions.join(", ")}`);
}

/** @param {StepContext} ctx */
async function restore({ client, agentId, say, ask }) {
  const state = `/api/v2/agents/${agentId}/state`;
  const etag = (await client.request("GET", state)).headers.get("etag") ?? "*";
  ask("POST", `${state}/restore  If-Match: ${etag}  {"version": 1}`);
  const { body } = await client.request("POST", `${state}/restore`, { body: { version: 1 }, headers: { "If-Match": etag } });
  say(`version ${body.version} now holds version ${body.restored_from}'s data`);
  const now = await client.request("GET", state);
  say(`load: version ${now.body.version}: ${JSON.stringify(now.body.state_data)}`);
}

/** @param {StepContext} ctx */
async function task({ client, agentId, out, say, ask }) {
  const data = Array.from({ length: TASK_VALUES }, (_, i) => Math.round(50 + 40 * Math.sin(i / 500) + (i % 7)));
  const path = `/api/v2/agents/${agentId}/tasks`;
  ask("POST", `${path}  {"task_type": "data_analysis", "metadata": {"data": [${TASK_VALUES} numbers]}}`);
  const created = await client.request("POST", path, { body: { task_type: "data_analysis", metadata: { data } } });
  const taskId = created.body.task_id;
  say(`task ${taskId}: ${created.body.status}`);
  const events = `/api/v2/tasks/${taskId}/events`;
  ask("GET", `${events}  (Server-Sent Events)`);
  const bar = progressBar(out);
  /** @type {any} */
  let last = null;
  try {
    for await (const { data: change } of client.events(events)) {
      last = change;
      bar.update(change.progress ?? 0, change.message ?? change.status);
      if (["completed", "failed", "cancelled"].includes(change.status)) break;
    }
  } finally {
    bar.done();
  }
  if (last?.status !== "completed") {
    throw new DemoFailure(
      `GET ${events}`,
      200,
      `The task ended ${last?.status ?? "without a final status"}`,
      last?.error_message ?? undefined,
    );
  }
  const r = last.result ?? {};
  say(`completed: count ${r.count}, mean ${round(r.mean)}, median ${round(r.median)}, min ${r.min}, max ${r.max}, p95 ${round(r.p95)}`);
}

/** @param {StepContext} ctx */
async function scaling({ client, agentId, say, ask }) {
  const scale = `/api/v2/agents/${agentId}/scale`;
  ask("POST", `${scale}  {"target_instances": 2}`);
  const scaled = await client.request("POST", scale, { body: { target_instances: 2 } });
  say(`${scaled.body.current_instances} active: ${scaled.body.instances.join(", ")}`);
  const metrics = `/api/v2/agents/${agentId}/metrics`;
  ask("GET", metrics);
  const { body } = await client.request("GET", metrics);
  for (const i of body.instances) say(`${i.instance_id}: ${i.status}, load ${i.load}, completed (5 min) ${i.completed_5m}`);
  say(`queue depth ${body.queue_depth}; recommendation: ${body.scaling_recommendation} (${body.recommended_instances}), ${body.reason}`);
}

/** @param {StepContext} ctx */
async function approval({ client, agentId, say, ask }) {
  ask("POST", `/api/v2/email/approval  {"title": "Publish the Q3 report", "approver_email": "approver@example.com"}`);
  const created = await client.request("POST", "/api/v2/email/approval", {
    body: {
      agent_id: agentId,
      title: "Publish the Q3 report",
      description: "The data_analysis task has finished. Publish the figures to the team?",
      approver_email: "approver@example.com",
    },
  });
  const id = created.body.approval_id;
  const mail = created.body.email;
  say(`approval ${id}: ${created.body.status}; mail ${mail.status}${mail.error ? ` (${mail.error})` : ""}`);
  if (mail.status !== "sent" || !mail.message_id) {
    throw new DemoFailure("POST /api/v2/email/approval", created.status, "The approval mail was not sent", mail.error);
  }

  const logged = `/api/v2/email/messages/${mail.message_id}`;
  ask("GET", logged);
  const message = (await client.request("GET", logged)).body;
  say(`to ${message.to.join(", ")}: "${message.subject}" (${message.status})`);
  for (const line of String(message.text).split("\n")) {
    if (/^(Approve|Reject):/.test(line)) say(`${line.replace(/\s+/, " ")}   (tokens masked in the log)`);
  }

  const link = await approveLink(message.rfc_message_id, client.baseUrl);
  if (link === null) {
    // The real mail (with its tokens) went to the approver's inbox; this credential decides instead.
    say("the mail itself is not on this machine (a remote server): deciding with this credential instead");
    const respond = `/api/v2/email/approval/${id}/respond`;
    ask("POST", `${respond}  {"action": "approve"}`);
    const decided = await client.request("POST", respond, { body: { action: "approve", reason: "npm run demo" } });
    say(`${decided.body.status} by ${decided.body.approved_by} via ${decided.body.decided_via}`);
    return;
  }
  // The link names the server's PUBLIC_BASE_URL; the demo opens its path on the server it talks to.
  const page = `${new URL(link).pathname}${new URL(link).search}`;
  const masked = page.replace(/token=[^&]+/, "token=…");
  ask("GET", `${masked}  (the Approve link from the mail, as a browser opens it)`);
  const landing = await client.request("GET", page, { auth: false, headers: { Accept: "text/html" } });
  say(`${landing.status} "${pageHeading(landing.body)}"`);
  const action = /<form method="post" action="([^"]+)"/.exec(String(landing.body))?.[1]?.replaceAll("&amp;", "&");
  if (!action) throw new DemoFailure(`GET ${masked}`, landing.status, "The landing page has no confirmation form");
  ask("POST", `${action.replace(/token=[^&]+/, "token=…")}  (the page's Confirm button)`);
  const confirmed = await client.request("POST", action, {
    auth: false,
    headers: { Accept: "text/html", "Content-Type": "application/x-www-form-urlencoded" },
  });
  say(`${confirmed.status} "${pageHeading(confirmed.body)}"`);
  const after = `/api/v2/email/approval/${id}`;
  ask("GET", after);
  const decided = (await client.request("GET", after)).body;
  say(`${decided.status} by ${decided.approved_by} via ${decided.decided_via} at ${decided.decided_at ?? decided.updated_at}`);
}

/** @param {StepContext} ctx */
async function call({ client, agentId, say, ask }) {
  ask("POST", `/api/v2/calls  {"agent_id": "${agentId}"}`);
  const created = await client.request("POST", "/api/v2/calls", { body: { agent_id: agentId } });
  const callId = created.body.call_id;
  say(`call ${callId}: ${created.body.status}`);
  const participants = `/api/v2/calls/${callId}/participants`;
  for (const name of ["Alice", "Bob"]) {
    const user = name.toLowerCase();
    ask("POST", `${participants}  {"user_id": "${user}", "display_name": "${name}"}`);
    const joined = await client.request("POST", participants, { body: { user_id: user, display_name: name } });
    say(`${name}: ${joined.body.participant.participant_id}, open ${joined.body.join_url}`);
  }
  const speak = `/api/v2/calls/${callId}/speak`;
  ask("POST", `${speak}  {"text": "Hello from the agent."}`);
  const spoken = await client.request("POST", speak, { body: { text: "Hello from the agent." }, accept: (s) => s === 200 || s === 503 });
  if (spoken.status === 503 && Array.isArray(spoken.body?.settings)) {
    say(`skipped: no speech provider (${spoken.body.detail})`);
  } else if (spoken.status === 503) {
    throw new DemoFailure(`POST ${speak}`, 503, spoken.body?.title ?? "Service unavailable", spoken.body?.detail);
  } else {
    say(`the agent spoke: ${spoken.body.bytes} bytes of ${spoken.body.content_type}`);
  }
  const roster = (await client.request("GET", `/api/v2/calls/${callId}`)).body;
  say(`${roster.participants.length} participants, status ${roster.status}`);
}

/** @param {StepContext} ctx */
async function deployment({ client, say, ask }) {
  const path = "/api/v2/deploy/development";
  ask("GET", path);
  const res = await client.request("GET", path, { accept: (s) => (s >= 200 && s < 300) || s === 404 || s === 403 });
  if (res.status === 404) say("skipped: this server has no deployment route");
  else if (res.status === 403) say(`skipped: ${res.body?.detail ?? "this credential may not generate deployment files"}`);
  else {
    const names = /** @type {{ path: string }[]} */ (res.body.files).map((f) => f.path);
    say(`${names.length} files: ${names.join(", ")}`);
  }
}

/**
 * The Approve link of the mail with this Message-ID, from where a local `wrangler dev` keeps the
 * mail it sent (written just after the send); null when it is not on this machine.
 * @param {string | null} rfcMessageId
 * @param {string} baseUrl only a server on this machine (loopback) is waited for
 * @returns {Promise<string | null>}
 */
async function approveLink(rfcMessageId, baseUrl) {
  if (!rfcMessageId) return null;
  const name = `${rfcMessageId.replace(/^<|>$/g, "")}.txt`;
  const local = ["127.0.0.1", "localhost", "[::1]"].includes(new URL(baseUrl).hostname);
  const deadline = Date.now() + (local ? 5_000 : 0);
  for (;;) {
    for (const session of existsSync(LOCAL_MAIL) ? readdirSync(LOCAL_MAIL) : []) {
      const file = join(LOCAL_MAIL, session, "email-text", name);
      if (!existsSync(file)) continue;
      const link = /^Approve: (\S+)$/m.exec(readFileSync(file, "utf8"))?.[1];
      if (link) return link;
    }
    if (Date.now() >= deadline) return null;
    await sleep(100);
  }
}

/** @param {unknown} html @returns {string} */
function pageHeading(html) {
  return /<h1>([^<]*)<\/h1>/.exec(String(html))?.[1] ?? "(no heading)";
}

/** @param {unknown} n */
function round(n) {
  return typeof n === "number" ? Math.round(n * 100) / 100 : n;
}
