/** The "which agent" form at the top of the per-agent views (Tasks, Scaling). */
import { el, field, input } from "./dom";
import type { ViewContext } from "./view";

export function agentPicker(ctx: ViewContext, onPick: (agentId: string) => void): HTMLFormElement {
  const form = el("form", "inline-form");
  const agent = input("text", "agent_id", ctx.agentId);
  agent.required = true;
  agent.pattern = "[A-Za-z0-9][A-Za-z0-9._:\\-]{0,127}";
  const submit = el("button", null, "Show");
  submit.type = "submit";
  form.append(field("Agent id", agent), submit);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = agent.value.trim();
    if (!id) return;
    ctx.selectAgent(id);
    onPick(id);
  });
  return form;
}
