import type { Principal } from "../auth/principal";

/** Hono's environment for every route: the Worker bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Set by the authentication middleware on every `/api/*` request that passed it. */
    principal: Principal;
  };
}
