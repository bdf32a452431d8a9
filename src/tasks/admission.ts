/**
 * What a new task must pass before anything is stored or queued: the permissions its type and
 * its approval gate need (403 naming the permission), and, for a built-in type, its metadata
 * against the type's input schema and checks (422 naming `metadata.<field>`). A task that could
 * only fail once it runs is refused here instead of being accepted and failing a moment later.
 */
import { can, requirePermission, type Permission, type Principal } from "../auth/principal";
import { fieldErrors } from "../http/validation";
import { AppError, type FieldError } from "../lib/problem";
import { taskTypeFor } from "./handlers/registry";
import type { CreateTaskBody } from "./schemas";

/** An approval gate mails the approver, so it needs what sending mail needs. */
export const APPROVAL_GATE_PERMISSION: Permission = "email:send";

export async function admitTask(env: Env, principal: Principal, agentId: string, body: CreateTaskBody): Promise<void> {
  const type = taskTypeFor(body.task_type);
  const needs: [Permission, string][] = [
    ...(type?.permissions ?? []).map((p): [Permission, string] => [p, `a ${body.task_type} task`]),
    ...(body.requires_approval
      ? [[APPROVAL_GATE_PERMISSION, "requires_approval (the approval is sent by mail)"] as [Permission, string]]
      : []),
  ];
  requirePermission(principal, "tasks:write");
  for (const [permission, why] of needs) {
    if (!can(principal, permission)) {
      throw new AppError("forbidden", `The role '${principal.role}' lacks the permission '${permission}', which ${why} needs.`, {
        extensions: { permission },
      });
    }
  }
  if (!type) return;
  const parsed = type.input.safeParse(body.metadata);
  if (!parsed.success) throw invalid(body.task_type, fieldErrors(parsed.error, "metadata"));
  const refused = type.check ? await type.check(parsed.data, env, { agentId }) : [];
  if (refused.length > 0) throw invalid(body.task_type, refused.map(underMetadata));
}

function underMetadata(e: FieldError): FieldError {
  return e.path === "metadata" || e.path.startsWith("metadata.") ? e : { ...e, path: `metadata.${e.path}` };
}

function invalid(taskType: string, errors: FieldError[]): AppError {
  const first = errors[0];
  return new AppError("validation_failed", `Invalid ${taskType} input: ${first?.path}: ${first?.message}`, { errors });
}
