/**
 * Scaling of one agent: its instances with their load (GET …/metrics, refreshed every few
 * seconds while the view is open), the recommendation and its reason, and a control that sets the
 * number of active instances (POST …/scale), or applies the recommendation.
 */
import { seg } from "../api";
import { agentPicker } from "../agent-picker";
import { button, code, el, facts, field, input, section } from "../dom";
import { alertRegion, guarded } from "../problem-view";
import { restartable } from "../restartable";
import { every, type View, type ViewContext } from "../view";
import type { Metrics, Scaled } from "../wire";

const REFRESH_MS = 5000;

export const scalingView: View = {
  name: "scaling",
  label: "Scaling",
  render(ctx) {
    const { root } = section("Scaling", "h2", "view");
    const body = el("div");
    const next = restartable(ctx.signal);
    const pick = (id: string) => show(ctx, next(), body, id);
    root.append(agentPicker(ctx, pick), body);
    if (ctx.agentId) pick(ctx.agentId);
    else body.append(el("p", "muted", "Pick an agent."));
    return root;
  },
};

function show(ctx: ViewContext, signal: AbortSignal, body: HTMLElement, agentId: string): void {
  const problem = alertRegion();
  const summary = section(`Load of ${agentId}`);
  const figures = el("div", "facts-slot");
  const measured = el("p", "muted", " ");
  summary.root.append(figures, measured);
  const instances = section("Instances");
  const list = el("ul", "cards instances");
  instances.root.append(list);
  const control = section("Scale");
  const form = el("form", "inline-form");
  const target = input("number", "target_instances");
  target.min = "0";
  target.step = "1";
  target.required = true;
  const apply = el("button", null, "Set instances");
  apply.type = "submit";
  const recommended = button("Apply the recommendation", () => void scale(Number(recommended.dataset.value)), "secondary");
  form.append(field("Active instances", target, "0 stops taking tasks; they wait in the backlog."), apply, recommended);
  const result = el("p", "muted", " ");
  result.setAttribute("role", "status");
  control.root.append(form, result);
  body.replaceChildren(problem, summary.root, instances.root, control.root);

  const base = `/api/v2/agents/${seg(agentId)}`;
  let first = true;

  async function refresh(): Promise<void> {
    const m = await guarded(problem, () => ctx.client.get<Metrics>(`${base}/metrics`, signal));
    if (!m) return;
    figures.replaceChildren(
      facts([
        ["Active instances", String(m.active_instances)],
        ["Total load", m.total_load.toFixed(2)],
        ["Average load", m.average_load.toFixed(2)],
        ["Queue depth", String(m.queue_depth)],
        ["Recommendation", `${m.scaling_recommendation.replace("_", " ")} to ${m.recommended_instances}`],
        ["Why", m.reason],
        ["Autoscale", m.autoscale.enabled ? `on, ${m.autoscale.min_instances}–${m.autoscale.max_instances}` : "off"],
      ]),
    );
    measured.textContent = `Measured ${new Date(m.measured_at).toLocaleTimeString()}; refreshed every ${REFRESH_MS / 1000} s.`;
    list.replaceChildren(
      ...(m.instances.length
        ? m.instances.map((i) => {
            const li = el("li", "card");
            const meter = el("meter");
            meter.min = 0;
            meter.max = Math.max(1, i.load);
            meter.value = i.load;
            meter.setAttribute("aria-label", `Load of ${i.instance_id}`);
            const title = el("h4", "card-title");
            title.append(code(i.instance_id));
            li.append(
              title,
              facts([
                ["Status", i.status],
                ["Load", meter],
                ["Running / pending", `${i.running} / ${i.pending}`],
                ["Done in 5 min", `${i.completed_5m} completed, ${i.failed_5m} failed`],
                ["Per minute", String(i.requests_per_minute)],
              ]),
            );
            return li;
          })
        : [el("li", "muted", "No instances: tasks wait until the agent is scaled up.")]),
    );
    recommended.dataset.value = String(m.recommended_instances);
    recommended.textContent = `Apply the recommendation (${m.recommended_instances})`;
    if (first) target.value = String(m.active_instances);
    first = false;
  }

  async function scale(n: number): Promise<void> {
    const scaled = await guarded(problem, () => ctx.client.post<Scaled>(`${base}/scale`, { target_instances: n }));
    if (!scaled) return;
    target.value = String(scaled.current_instances);
    result.textContent = `${scaled.current_instances} active${scaled.draining.length ? `, ${scaled.draining.length} draining` : ""}.`;
    await refresh();
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void scale(Number(target.value));
  });
  void refresh();
  every(signal, REFRESH_MS, refresh);
}
