/**
 * Tasks of one agent: a "new task" form generated from the built-in types' schemas, and the
 * agent's tasks, each live over its event stream while it runs.
 */
import { seg, withQuery } from "../api";
import { agentPicker } from "../agent-picker";
import { button, el, section } from "../dom";
import { alertRegion, guarded, showProblem } from "../problem-view";
import { taskForm } from "../task-form";
import { taskRow, type TaskRow } from "../task-row";
import { restartable } from "../restartable";
import type { View, ViewContext } from "../view";
import type { CreatedTask, Task, TaskPage, TaskTypeList } from "../wire";

const PAGE_SIZE = 20;
/**
 * Streams open at once per view: a browser opens at most 6 connections per host over HTTP/1.1
 * (`wrangler dev`, a self-hosted server without a proxy), so 4 leave room for the view's other
 * requests; also well under SSE_MAX_STREAMS_PER_CREDENTIAL (20 by default).
 */
const MAX_WATCHED = 4;

export const tasksView: View = {
  name: "tasks",
  label: "Tasks",
  render(ctx) {
    const { root } = section("Tasks", "h2", "view");
    const body = el("div");
    // Another agent picked: the previous agent's task streams close.
    const next = restartable(ctx.signal);
    const pick = (id: string) => show({ ...ctx, signal: next() }, body, id);
    root.append(agentPicker(ctx, pick), body);
    if (ctx.agentId) pick(ctx.agentId);
    else body.append(el("p", "muted", "Pick an agent (any id: an agent gets its first task here)."));
    return root;
  },
};

function show(ctx: ViewContext, body: HTMLElement, agentId: string): void {
  const problem = alertRegion();
  const create = section(`New task for ${agentId}`);
  const formSlot = el("div", "form-slot", "Loading the task types…");
  create.root.append(formSlot);
  const listing = section(`Tasks of ${agentId}`);
  const list = el("ul", "cards tasks");
  const more = button("More tasks", () => void load(), "secondary");
  more.hidden = true;
  listing.root.append(list, more);
  body.replaceChildren(problem, create.root, listing.root);

  let cursor: string | null = null;
  // Unfinished tasks wait for a free stream; the newest (created here) go first.
  let watched = 0;
  const waiting: TaskRow[] = [];
  const watchNext = () => {
    const row = watched < MAX_WATCHED ? waiting.shift() : undefined;
    if (!row) return;
    watched += 1;
    void row.watch().finally(() => {
      watched -= 1;
      if (!ctx.signal.aborted) watchNext();
    });
  };
  const add = (task: Task, first: boolean) => {
    const row = taskRow(ctx, task, problem);
    if (first) list.prepend(row.element);
    else list.append(row.element);
    if (["completed", "failed", "cancelled"].includes(task.status)) return;
    if (first) waiting.unshift(row);
    else waiting.push(row);
    watchNext();
  };

  async function load(): Promise<void> {
    const page = await guarded(problem, () =>
      ctx.client.get<TaskPage>(withQuery(`/api/v2/agents/${seg(agentId)}/tasks`, { limit: PAGE_SIZE, cursor }), ctx.signal),
    );
    if (!page) return;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    // The API's creation order; a task created here goes on top (add(task, true)).
    for (const t of page.tasks) add(t, false);
  }

  void (async () => {
    const types = await guarded(problem, () => ctx.client.get<TaskTypeList>("/api/v2/task-types", ctx.signal));
    if (!types) {
      formSlot.textContent = "The task types could not be read.";
      return;
    }
    const form = taskForm(types.task_types, async (taskType, metadata) => {
      const created = await guarded(problem, () =>
        ctx.client.post<CreatedTask>(`/api/v2/agents/${seg(agentId)}/tasks`, { task_type: taskType, metadata }),
      );
      if (!created) return;
      const task = await guarded(problem, () => ctx.client.get<Task>(`/api/v2/tasks/${seg(created.task_id)}`));
      if (task) add(task, true);
    });
    form.addEventListener("task-form-error", (ev) => showProblem(problem, (ev as CustomEvent).detail));
    formSlot.replaceChildren(form);
  })();
  void load();
}
