/**
 * One agent: its current state as formatted JSON, its kept versions (a page at a time), a diff
 * between any two of them, and restore. A restore is confirmed first and sent with `If-Match`
 * naming the version shown, so a change made meanwhile is reported (412 problem), not overwritten.
 */
import { seg, withQuery } from "../api";
import { button, code, el, facts, field, section, select, when } from "../dom";
import { confirmDialog } from "../confirm-dialog";
import { diffJson } from "../json-diff";
import { alertRegion, guarded } from "../problem-view";
import type { ViewContext } from "../view";
import type { AgentState, SavedState, VersionPage } from "../wire";

const VERSIONS_PAGE = 20;

export function renderAgentDetail(ctx: ViewContext, agentId: string): HTMLElement {
  const { root } = section(`Agent ${agentId}`, "h2", "view");
  const back = el("a", "back", "← All agents");
  back.href = "#agents";
  const problem = alertRegion();
  const base = `/api/v2/agents/${seg(agentId)}/state`;

  // Current state.
  const stateBox = section("Current state");
  const stateFacts = el("div", "facts-slot");
  const stateJson = jsonBlock("Current state as JSON");
  stateBox.root.append(stateFacts, stateJson);

  // History: versions, compare, restore.
  const history = section("Version history");
  const versionList = el("ul", "versions");
  versionList.setAttribute("aria-label", "Kept versions, newest first");
  const more = button("Older versions", () => void loadVersions(false), "secondary");
  const from = select("from", []);
  const to = select("to", []);
  const compare = el("form", "inline-form");
  const compareButton = el("button", null, "Compare");
  compareButton.type = "submit";
  compare.append(field("From version", from), field("To version", to), compareButton);
  const diffSummary = el("p", "muted diff-summary", " ");
  diffSummary.setAttribute("aria-live", "polite");
  const diffOut = el("pre", "diff");
  diffOut.tabIndex = 0;
  diffOut.setAttribute("aria-label", "Differences between the two versions");
  const restoreForm = el("form", "inline-form");
  const restoreVersion = select("restore", []);
  const restoreButton = el("button", null, "Restore…");
  restoreButton.type = "submit";
  restoreForm.append(field("Version to restore", restoreVersion), restoreButton);
  const restoreNote = el("p", "muted", " ");
  restoreNote.setAttribute("role", "status");
  const restoreProblem = alertRegion();
  history.root.append(
    versionList,
    more,
    el("h4", null, "Compare two versions"),
    compare,
    diffSummary,
    diffOut,
    el("h4", null, "Restore a version"),
    restoreForm,
    restoreProblem,
    restoreNote,
  );
  root.append(back, problem, stateBox.root, history.root);

  let current: { state: AgentState; etag: string | null } | null = null;
  let versions: VersionPage["versions"] = [];
  let cursor: string | null = null;

  async function loadState(): Promise<void> {
    const answer = await guarded(problem, () => ctx.client.request<AgentState>("GET", base, { signal: ctx.signal }));
    if (!answer) return;
    current = { state: answer.data, etag: answer.headers.get("etag") };
    const s = answer.data;
    stateFacts.replaceChildren(
      facts([
        ["Type", s.agent_type],
        ["Version", code(String(s.version))],
        ["Saved", when(s.updated_at)],
        ["Created", when(s.created_at)],
        ...(s.restored_from ? ([["Restored from", `version ${s.restored_from}`]] as [string, string][]) : []),
      ]),
    );
    stateJson.textContent = JSON.stringify(s.state_data, null, 2);
  }

  async function loadVersions(reset: boolean): Promise<void> {
    const page = await guarded(problem, () =>
      ctx.client.get<VersionPage>(withQuery(`${base}/versions`, { limit: VERSIONS_PAGE, cursor: reset ? undefined : cursor }), ctx.signal),
    );
    if (!page) return;
    versions = reset ? page.versions : [...versions, ...page.versions];
    cursor = page.next_cursor;
    more.hidden = !cursor;
    versionList.replaceChildren(
      ...versions.map((v) => {
        const li = el("li");
        li.append(
          code(`v${v.version}`),
          ` ${when(v.updated_at)} · ${v.agent_type} · ${v.size_bytes} bytes${v.restored_from ? ` · restored from v${v.restored_from}` : ""}`,
        );
        return li;
      }),
    );
    const options = versions.map((v) => String(v.version));
    for (const [s, pick] of [
      [from, options[1] ?? options[0]],
      [to, options[0]],
      [restoreVersion, options[1] ?? options[0]],
    ] as const) {
      const keep = s.value;
      s.replaceChildren(...options.map((o) => Object.assign(el("option", null, `Version ${o}`), { value: o })));
      s.value = keep && options.includes(keep) ? keep : (pick ?? "");
    }
  }

  compare.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const [a, b] = await Promise.all(
      [from.value, to.value].map((v) => guarded(problem, () => ctx.client.get<AgentState>(`${base}/versions/${seg(v)}`, ctx.signal))),
    );
    if (!a || !b) return;
    const lines = diffJson(a.state_data, b.state_data);
    const added = lines.filter((l) => l.op === "+").length;
    const removed = lines.filter((l) => l.op === "-").length;
    diffSummary.textContent =
      added || removed
        ? `Version ${a.version} → ${b.version}: ${added} lines added, ${removed} removed.`
        : `Versions ${a.version} and ${b.version} hold the same data.`;
    diffOut.replaceChildren(...lines.map((l) => el("span", l.op === "+" ? "add" : l.op === "-" ? "del" : "same", `${l.op} ${l.text}\n`)));
  });

  restoreForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    const version = Number(restoreVersion.value);
    const ok = await confirmDialog(
      `Restore version ${version}?`,
      `Version ${version}'s data becomes a new version after version ${current.state.version}. Nothing is deleted; if the agent changes before you confirm, the restore is refused.`,
      "Restore",
    );
    if (!ok) return;
    restoreNote.textContent = " ";
    const saved = await guarded(restoreProblem, () =>
      ctx.client.post<SavedState>(`${base}/restore`, { version }, current?.etag ? { "If-Match": current.etag } : {}),
    );
    if (!saved) {
      // Show what the agent holds now (a 412: someone saved meanwhile), keeping the problem in view.
      await Promise.all([loadState(), loadVersions(true)]);
      return;
    }
    restoreNote.textContent = `Restored: version ${saved.version} now holds version ${saved.restored_from}'s data.`;
    await Promise.all([loadState(), loadVersions(true)]);
  });

  void loadState();
  void loadVersions(true);
  return root;
}

function jsonBlock(label: string): HTMLPreElement {
  const pre = el("pre", "json");
  // Scrollable, so reachable by keyboard.
  pre.tabIndex = 0;
  pre.setAttribute("aria-label", label);
  return pre;
}
