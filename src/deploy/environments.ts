/**
 * What differs between development, staging and production, in one place. Replicas are not in
 * this list: every environment runs exactly one process, because the data directory has one
 * writer (each agent's Durable Object lives in that process's SQLite files).
 */
import { VERSION } from "../version";
import type { DeployEnvironment, DeployOptions } from "./options";

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { memory: string };
}

export interface Environment {
  name: DeployEnvironment;
  domain: string;
  image: string;
  storageSize: string;
  logLevel: "debug" | "info" | "warn" | "error";
  /** The URL clients and mail links use. */
  publicBaseUrl: string;
  resources: Resources;
  /** cert-manager ClusterIssuer named on the Ingress; none: bring your own TLS secret. */
  certIssuer?: string;
  /** Development only: a local SMTP catcher the app sends every mail to. */
  mailCatcher: boolean;
}

interface Profile {
  domain: string;
  storageSize: string;
  logLevel: Environment["logLevel"];
  resources: Resources;
  certIssuer?: string;
  mailCatcher: boolean;
}

const PROFILES: Record<DeployEnvironment, Profile> = {
  development: {
    domain: "localhost",
    storageSize: "1Gi",
    logLevel: "debug",
    resources: { requests: { cpu: "100m", memory: "192Mi" }, limits: { memory: "512Mi" } },
    mailCatcher: true,
  },
  staging: {
    domain: "staging.agents.example.com",
    storageSize: "5Gi",
    logLevel: "info",
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "768Mi" } },
    certIssuer: "letsencrypt-staging",
    mailCatcher: false,
  },
  production: {
    domain: "agents.example.com",
    storageSize: "20Gi",
    logLevel: "info",
    resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1536Mi" } },
    certIssuer: "letsencrypt-prod",
    mailCatcher: false,
  },
};

export const DEFAULT_IMAGE = `datamcpserveragent:${VERSION}`;

export function environmentFor(name: DeployEnvironment, options: DeployOptions): Environment {
  const profile = PROFILES[name];
  const domain = options.domain ?? profile.domain;
  return {
    name,
    domain,
    image: options.image ?? DEFAULT_IMAGE,
    storageSize: options.storage_size ?? profile.storageSize,
    logLevel: profile.logLevel,
    publicBaseUrl: name === "development" && domain === "localhost" ? "http://localhost:8787" : `https://${domain}`,
    resources: profile.resources,
    ...(profile.certIssuer ? { certIssuer: profile.certIssuer } : {}),
    mailCatcher: profile.mailCatcher,
  };
}
