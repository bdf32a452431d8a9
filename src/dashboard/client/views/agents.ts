/**
 * Agents: the list from GET /api/v2/agents, a page at a time (next_cursor), by type on the server
 * and by text within the page; any agent id can be opened directly. Opening one shows its state,
 * history and restore (agent-detail.ts).
 */
import { AGENT_ID_PATTERN, AGENT_TYPES } from "../../../state/model";
import { seg, withQuery } from "../api";
import { button, code, el, facts, field, input, section, select, when } from "../dom";
import { alertRegion, guarded } from "../problem-view";
import type { View, ViewContext } from "../view";
import type { AgentPage, AgentRow } from "../wire";
import { renderAgentDetail } from "./agent-detail";

const PAGE_SIZE = 10;

export const agentsView: View = {
  name: "agents",
  label: "Agents",
  render(ctx) {
    return ctx.param ? renderAgentDetail(ctx, ctx.param) : renderList(ctx);
  },
};

function renderList(ctx: ViewContext): HTMLElement {
  const { root } = section("Agents", "h2", "view");
  const problem = alertRegion();
  const search = input("search", "q");
  const type = select("agent_type", [["", "Any type"], ...AGENT_TYPES.map((t): [string, string] => [t, t])]);
  const controls = el("form", "inline-form");
  controls.setAttribute("role", "search");
  const open = button("Open this id", () => go(search.value.trim()), "secondary");
  open.hidden = true;
  controls.append(
    field("Search agents", search, "Filters this page by id or type; an exact id opens any agent."),
    field("Type", type),
    open,
  );
  controls.addEventListener("submit", (ev) => ev.preventDefault());

  const list = el("ul", "cards agents");
  list.setAttribute("aria-live", "polite");
  const count = el("p", "muted", " ");
  const prev = button("Previous page", () => void load(cursors.length - 2), "secondary");
  const next = button("Next page", () => void load(cursors.length), "secondary");
  const pager = el("nav", "pager");
  pager.setAttribute("aria-label", "Agent pages");
  pager.append(prev, next);
  root.append(controls, problem, count, list, pager);

  // cursors[i]: the cursor that loads page i (undefined for the first).
  let cursors: (string | undefined)[] = [];
  let nextCursor: string | null = null;
  let rows: AgentRow[] = [];

  const go = (id: string) => {
    ctx.selectAgent(id);
    location.hash = `#agents/${encodeURIComponent(id)}`;
  };

  const show = () => {
    const q = search.value.trim().toLowerCase();
    const shown = rows.filter((a) => !q || a.agent_id.toLowerCase().includes(q) || a.agent_type.includes(q));
    list.replaceChildren(...shown.map((a) => card(a, go)));
    count.textContent = `${shown.length} of ${rows.length} agents on page ${cursors.length}${nextCursor ? " (more on the next page)" : ""}`;
    const exact = AGENT_ID_PATTERN.test(search.value.trim()) && !rows.some((a) => a.agent_id === search.value.trim());
    open.hidden = !exact;
    prev.disabled = cursors.length <= 1;
    next.disabled = !nextCursor;
  };

  async function load(page: number): Promise<void> {
    const cursor = page <= 0 ? undefined : page === cursors.length ? (nextCursor ?? undefined) : cursors[page];
    const body = await guarded(problem, () =>
      ctx.client.get<AgentPage>(withQuery("/api/v2/agents", { limit: PAGE_SIZE, cursor, agent_type: type.value }), ctx.signal),
    );
    if (!body) return;
    cursors = [...cursors.slice(0, Math.max(page, 0)), cursor];
    nextCursor = body.next_cursor;
    rows = body.agents;
    show();
  }

  search.addEventListener("input", show);
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !open.hidden) go(search.value.trim());
  });
  type.addEventListener("change", () => {
    cursors = [];
    void load(0);
  });
  void load(0);
  return root;
}

function card(a: AgentRow, go: (id: string) => void): HTMLLIElement {
  const li = el("li", "card");
  const title = el("h3", "card-title");
  const link = el("a", null, a.agent_id);
  link.href = `#agents/${seg(a.agent_id)}`;
  link.addEventListener("click", (ev) => {
    ev.preventDefault();
    go(a.agent_id);
  });
  title.append(link);
  li.append(
    title,
    facts([
      ["Type", a.agent_type],
      ["Version", code(String(a.version))],
      ["Updated", when(a.updated_at)],
      ["Instances", String(a.instances)],
    ]),
  );
  return li;
}
