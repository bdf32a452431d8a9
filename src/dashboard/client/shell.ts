/**
 * The signed-in page: navigation between the views (the address fragment names the view, so Back
 * works and a view can be bookmarked; it never holds the credential), sign out, and the view
 * itself. Leaving a view aborts what it had open (event streams, refresh timers).
 */
import type { ApiClient } from "./api";
import { button, el } from "./dom";
import { signOut } from "./session";
import type { View } from "./view";
import { agentsView } from "./views/agents";
import { approvalsView } from "./views/approvals";
import { callsView } from "./views/calls";
import { healthView } from "./views/health";
import { mailView } from "./views/mail";
import { scalingView } from "./views/scaling";
import { tasksView } from "./views/tasks";

const VIEWS: readonly View[] = [agentsView, tasksView, scalingView, approvalsView, mailView, callsView, healthView];
const AGENT_KEY = "dmsa.dashboard.agent";

export function renderShell(main: HTMLElement, client: ApiClient, onSignOut: () => void): () => void {
  const nav = el("nav", "views");
  nav.setAttribute("aria-label", "Views");
  const links = VIEWS.map((v) => {
    const a = el("a", null, v.label);
    a.href = `#${v.name}`;
    a.dataset.view = v.name;
    return a;
  });
  nav.append(...links);
  const bar = el("div", "session-bar");
  const agentLine = el("p", "muted current-agent");
  const out = button(
    "Sign out",
    () => {
      signOut(sessionStorage);
      stop();
      onSignOut();
    },
    "secondary",
  );
  bar.append(agentLine, out);
  const slot = el("div", "view-slot");
  main.replaceChildren(nav, bar, slot);

  let controller = new AbortController();
  let agentId = sessionStorage.getItem(AGENT_KEY) ?? "";
  const showAgent = () => (agentLine.textContent = agentId ? `Agent: ${agentId}` : "No agent picked");

  const route = (focus: boolean) => {
    const [name = "", ...rest] = location.hash.replace(/^#/, "").split("/");
    const view = VIEWS.find((v) => v.name === name) ?? agentsView;
    const param = rest.length ? decodeURIComponent(rest.join("/")) : null;
    controller.abort();
    controller = new AbortController();
    for (const a of links) {
      if (a.dataset.view === view.name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const rendered = view.render({
      client,
      signal: controller.signal,
      agentId,
      param,
      selectAgent(id) {
        agentId = id;
        sessionStorage.setItem(AGENT_KEY, id);
        showAgent();
      },
    });
    slot.replaceChildren(rendered);
    document.title = `${view.label} · DataMCPServerAgent`;
    if (focus) {
      const heading = rendered.querySelector("h2");
      if (heading) {
        heading.tabIndex = -1;
        heading.focus();
      }
    }
  };
  const onHash = () => route(true);
  window.addEventListener("hashchange", onHash);
  const stop = () => {
    window.removeEventListener("hashchange", onHash);
    controller.abort();
  };
  showAgent();
  route(false);
  return stop;
}
