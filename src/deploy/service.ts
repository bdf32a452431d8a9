/** The deployment bundle as the route and the MCP tool return it (no binding: the generators are pure). */
import { generateDeployment } from "./generate";
import type { DeployEnvironment, DeployOptions } from "./options";
import type { DeploymentResponse } from "./schemas";

export function deploymentBundle(env: DeployEnvironment, options: DeployOptions): DeploymentResponse {
  return { env, files: generateDeployment(env, options) };
}
