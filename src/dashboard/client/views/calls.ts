/**
 * Calls: the newest calls (optionally of the picked agent), a form to create one, and on each
 * call a form to add a participant, whose answer gives the link that opens the call page
 * (`join_url`, with that participant's join token) in a new tab.
 */
import { seg, withQuery } from "../api";
import { code, el, facts, field, input, section, when } from "../dom";
import { alertRegion, guarded } from "../problem-view";
import type { View, ViewContext } from "../view";
import type { Call, CallList, Joined } from "../wire";

const PAGE_SIZE = 20;

export const callsView: View = {
  name: "calls",
  label: "Calls",
  render(ctx) {
    const { root } = section("Calls", "h2", "view");
    const problem = alertRegion();
    const createForm = el("form", "inline-form");
    const agent = input("text", "agent_id", ctx.agentId);
    agent.required = true;
    const create = el("button", null, "Create call");
    create.type = "submit";
    createForm.append(field("Agent id", agent), create);
    const filterNote = el("p", "muted", " ");
    const list = el("ul", "cards calls");
    root.append(createForm, problem, filterNote, list);

    async function load(): Promise<void> {
      const body = await guarded(problem, () =>
        ctx.client.get<CallList>(withQuery("/api/v2/calls", { limit: PAGE_SIZE, agent_id: ctx.agentId || undefined }), ctx.signal),
      );
      if (!body) return;
      filterNote.textContent = ctx.agentId ? `The newest calls of ${ctx.agentId}.` : "The newest calls of every agent.";
      list.replaceChildren(
        ...(body.calls.length ? body.calls.map((c) => callCard(ctx, c, problem)) : [el("li", "muted", "No calls yet.")]),
      );
    }

    createForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const id = agent.value.trim();
      const created = await guarded(problem, () => ctx.client.post<Call>("/api/v2/calls", { agent_id: id }));
      if (!created) return;
      ctx.selectAgent(id);
      await load();
    });
    void load();
    return root;
  },
};

function callCard(ctx: ViewContext, c: Call, problem: HTMLElement): HTMLLIElement {
  const li = el("li", "card call");
  li.dataset.callId = c.call_id;
  const title = el("h3", "card-title");
  title.append(code(c.call_id));
  const people = el("ul", "people");
  const listPeople = (call: Call) =>
    people.replaceChildren(
      ...call.participants.map((p) =>
        el("li", null, `${p.display_name} (${p.user_id})${p.left_at ? ", left" : ""}${p.is_agent ? ", agent" : ""}`),
      ),
    );
  listPeople(c);
  const form = el("form", "inline-form");
  const user = input("text", "user_id");
  user.required = true;
  const name = input("text", "display_name");
  name.required = true;
  const add = el("button", null, "Add participant");
  add.type = "submit";
  form.append(field("User id", user), field("Display name", name), add);
  const links = el("ul", "join-links");
  links.setAttribute("aria-live", "polite");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const joined = await guarded(problem, () =>
      ctx.client.post<Joined>(`/api/v2/calls/${seg(c.call_id)}/participants`, {
        user_id: user.value.trim(),
        display_name: name.value.trim(),
      }),
    );
    if (!joined) return;
    const a = el("a", null, `Open the call page as ${joined.participant.display_name}`);
    a.href = joined.join_url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    const li2 = el("li");
    li2.append(a, el("span", "muted", ` (its join token expires ${when(joined.join_token_expires_at)})`));
    links.append(li2);
    user.value = "";
    name.value = "";
    const fresh = await ctx.client.get<Call>(`/api/v2/calls/${seg(c.call_id)}`).catch(() => null);
    if (fresh) listPeople(fresh);
  });
  li.append(
    title,
    facts([
      ["Agent", code(c.agent_id)],
      ["Status", c.status],
      ["Created", when(c.created_at)],
      ["Participants", String(c.participants.length)],
    ]),
    people,
    form,
    links,
  );
  return li;
}
