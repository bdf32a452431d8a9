/** Self-hosting as an MCP tool: the deployment route's service and schemas (src/deploy/). */
import { DeployParams, DeployQuery, DeploymentResponse } from "../../deploy/schemas";
import { deploymentBundle } from "../../deploy/service";
import { defineTool, READ_ONLY, type McpTool } from "../tool";

export const DEPLOY_TOOLS: readonly McpTool[] = [
  defineTool({
    name: "generate_deployment",
    title: "Generate self-hosting files",
    description:
      "Generate the files to run this server off Cloudflare for an `env` (development, staging or production): a Dockerfile and .dockerignore, " +
      "docker-compose.yml (with Prometheus, Grafana and, in development, a mail catcher), the `.env.<env>` settings file, and Kubernetes manifests " +
      "(one-replica StatefulSet with its volume, Service, TLS Ingress, NetworkPolicy, ServiceMonitor, dashboard). Optional `domain`, `image` and " +
      "`storage_size` (a Kubernetes quantity such as 10Gi) override the environment's defaults. Each file is `{path, content}`; every secret is left empty " +
      "for the operator to fill in. Nothing is written or changed on the server. An invalid option is an error with code `validation_failed`.",
    mirrors: "GET /api/v2/deploy/{env}",
    permission: "deploy:generate",
    input: DeployParams.extend(DeployQuery.shape).strict(),
    output: DeploymentResponse,
    annotations: READ_ONLY,
    run: async (_ctx, { env, ...options }) => deploymentBundle(env, options),
  }),
];
