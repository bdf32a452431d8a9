/**
 * A compile-time contract between the API and the dashboard's browser code: each server schema's
 * output must be assignable to the type the dashboard reads it as (src/dashboard/client/wire.ts).
 * Nothing runs here; `tsc` fails when a server change would break the dashboard's reading.
 */
import type { z } from "zod";
import type { ApprovalSummary, ApprovalView } from "../approvals/schemas";
import type { CallSession, JoinResponse } from "../calls/schemas";
import type { EmailMessage, EmailMessageSummary } from "../email/schemas";
import type { MetricsResponse, ScaleResponse } from "../scaling/schemas";
import type { AgentList, PersistentState, SaveStateResponse, VersionList } from "../state/schemas";
import type { CreateTaskResponse, LongRunningTask, TaskList } from "../tasks/schemas";
import type { TaskTypeList } from "../tasks/type-routes";
import type * as Wire from "./client/wire";

/** Compiles only when `Server` can be read as `Client`. */
type Fits<Server extends Client, Client> = [Server, Client];

export type DashboardWireContract = [
  Fits<z.output<typeof AgentList>, Wire.AgentPage>,
  Fits<z.output<typeof PersistentState>, Wire.AgentState>,
  Fits<z.output<typeof SaveStateResponse>, Wire.SavedState>,
  Fits<z.output<typeof VersionList>, Wire.VersionPage>,
  Fits<z.output<typeof LongRunningTask>, Wire.Task>,
  Fits<z.output<typeof TaskList>, Wire.TaskPage>,
  Fits<z.output<typeof CreateTaskResponse>, Wire.CreatedTask>,
  Fits<z.output<typeof TaskTypeList>, Wire.TaskTypeList>,
  Fits<z.output<typeof MetricsResponse>, Wire.Metrics>,
  Fits<z.output<typeof ScaleResponse>, Wire.Scaled>,
  Fits<z.output<typeof ApprovalSummary>, Wire.ApprovalSummary>,
  Fits<z.output<typeof ApprovalView>, Wire.Approval>,
  Fits<z.output<typeof EmailMessageSummary>, Wire.MessageSummary>,
  Fits<z.output<typeof EmailMessage>, Wire.Message>,
  Fits<z.output<typeof CallSession>, Wire.Call>,
  Fits<z.output<typeof JoinResponse>, Wire.Joined>,
];
