/** zod schemas of the deployment route and tool: validation, types and OpenAPI in one place. */
import { z } from "zod";
import { DeployEnvironment, DeployOptions } from "./options";

export const DeployParams = z.object({
  env: DeployEnvironment.describe("The environment: development, staging or production."),
});

/** The same options the CLI takes (`--domain`, `--image`, `--storage-size`), as query parameters. */
export const DeployQuery = DeployOptions;

export const DeploymentFile = z.object({
  path: z.string().describe("Where the file goes, relative to the deployment folder (`/`-separated)."),
  content: z.string().describe("The file's text."),
});

export const DeploymentResponse = z.object({
  env: DeployEnvironment,
  files: z.array(DeploymentFile).describe("Every file `npm run selfhost -- generate` writes for this environment and these options."),
});
export type DeploymentResponse = z.infer<typeof DeploymentResponse>;
