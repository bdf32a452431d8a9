/** The deployment generators' public surface (the CLI bundles this file). */
export { generateDeployment, type GeneratedFile } from "./generate";
export { DEPLOY_ENVIRONMENTS, DeployEnvironment, DeployOptions } from "./options";
