/**
 * What a deployment bundle is generated from: the environment and three optional overrides. One
 * schema for the CLI (`npm run selfhost -- generate`), `GET /api/v2/deploy/{env}` and the MCP tool,
 * so all three accept and refuse the same values.
 */
import { z } from "zod";

export const DEPLOY_ENVIRONMENTS = ["development", "staging", "production"] as const;
export const DeployEnvironment = z.enum(DEPLOY_ENVIRONMENTS);
export type DeployEnvironment = z.infer<typeof DeployEnvironment>;

/** An RFC 1123 host name (what an Ingress rule and a certificate accept); no scheme, port or path. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** A container image reference: `[registry[:port]/]name[:tag][@sha256:digest]`, lower case. */
const IMAGE =
  /^(?=.{1,255}$)[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
/** A Kubernetes storage quantity such as `10Gi` or `500Mi` (binary or decimal suffix, no sign). */
const STORAGE = /^(?:[1-9][0-9]*|[0-9]+\.[0-9]*[1-9][0-9]*)(?:Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

export const DeployOptions = z
  .object({
    domain: z
      .string()
      .regex(HOST_NAME, "a lower-case host name such as agents.example.com (no scheme, port or path)")
      .optional()
      .describe("The public host name (Ingress rule, TLS certificate, PUBLIC_BASE_URL). Default: per environment."),
    image: z
      .string()
      .regex(IMAGE, "an image reference such as registry.example.com/datamcpserveragent:0.1.0")
      .optional()
      .describe("The container image the Compose file and the StatefulSet run. Default: datamcpserveragent:<version>."),
    storage_size: z
      .string()
      .regex(STORAGE, "a Kubernetes quantity such as 10Gi or 500Mi")
      .optional()
      .describe("The size of the data volume claim (Kubernetes quantity). Default: per environment."),
  })
  .strict();
export type DeployOptions = z.infer<typeof DeployOptions>;
