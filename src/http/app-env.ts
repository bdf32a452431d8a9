import type { Principal } from "../auth/principal";
import type { ProblemCode } from "../lib/problem";

/** Hono's environment for every route: the Worker bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Set by the authentication middleware on every `/api/*` request that passed it. */
    principal: Principal;
    /** Set when the answer is a problem document: its code (counted by /metrics as agent_errors_total). */
    problemCode?: ProblemCode;
  };
}
