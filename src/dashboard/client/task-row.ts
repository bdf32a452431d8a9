/**
 * One task on the Tasks view, kept live over its event stream: status, a progress bar with the
 * handler's own percentage and message, and Cancel while it can still be cancelled. Every line
 * has its place from the start (bar at 0, empty message, result "–"), so updates never move the
 * page.
 */
import { seg } from "./api";
import { button, code, el, when } from "./dom";
import { showProblem } from "./problem-view";
import { follow } from "./sse";
import type { ViewContext } from "./view";
import type { Task, TaskChange } from "./wire";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export interface TaskRow {
  element: HTMLLIElement;
  /** Follows the task's event stream; resolves when it ends (the task finished, a refusal, or the view closed). */
  watch(): Promise<void>;
}

export function taskRow(ctx: ViewContext, task: Task, problem: HTMLElement): TaskRow {
  const li = el("li", "card task");
  li.dataset.taskId = task.task_id;
  const title = el("h3", "card-title");
  title.append(`${task.task_type} `, code(task.task_id));
  const status = el("span", "badge");
  const bar = el("progress");
  bar.max = 100;
  bar.setAttribute("aria-label", `Progress of ${task.task_type} task ${task.task_id}`);
  const percent = el("span", "percent");
  const message = el("p", "task-message");
  message.setAttribute("aria-live", "polite");
  const outcome = el("p", "task-outcome");
  const cancel = button("Cancel", () => void doCancel(), "secondary");
  cancel.setAttribute("aria-label", `Cancel task ${task.task_id}`);
  const line = el("div", "progress-line");
  line.append(bar, percent, status);
  const created = el("p", "muted", `Created ${when(task.created_at)}`);
  li.append(title, line, message, outcome, created, cancel);

  const apply = (s: { status: Task["status"]; progress: number | null; message: string | null }) => {
    status.textContent = s.status;
    status.dataset.status = s.status;
    li.dataset.status = s.status;
    const p = Math.max(0, Math.min(100, s.progress ?? 0));
    bar.value = p;
    percent.textContent = `${Math.round(p)}%`;
    if (s.message !== null) message.textContent = s.message;
    cancel.disabled = TERMINAL.has(s.status);
  };
  const finish = (result: unknown, error: string | null | undefined) => {
    outcome.textContent = error
      ? `Error: ${error}`
      : result === undefined || result === null
        ? "Result: –"
        : `Result: ${JSON.stringify(result)}`;
  };

  apply({ status: task.status, progress: task.progress, message: task.progress_message ?? " " });
  finish(TERMINAL.has(task.status) ? task.result : null, task.error_message);

  async function doCancel(): Promise<void> {
    try {
      const t = await ctx.client.post<Task>(`/api/v2/tasks/${seg(task.task_id)}/cancel`);
      apply({ status: t.status, progress: t.progress, message: t.progress_message });
    } catch (err) {
      showProblem(problem, err);
    }
  }

  let watching = false;
  return {
    element: li,
    async watch() {
      if (watching || TERMINAL.has(li.dataset.status ?? "")) return;
      watching = true;
      await follow(
        ctx.client,
        `/api/v2/tasks/${seg(task.task_id)}/events`,
        ctx.signal,
        (event) => {
          const change = JSON.parse(event.data) as TaskChange & { result?: unknown };
          apply({ status: change.status, progress: change.progress, message: change.message });
          if (!TERMINAL.has(change.status)) return false;
          finish(change.result, change.error_message);
          return true;
        },
        (err) => showProblem(problem, err),
      );
    },
  };
}
