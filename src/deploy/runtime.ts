/**
 * How the self-hosted server starts, read from its one description (scripts/selfhost/start-command.mjs,
 * which `npm start` uses too), plus where the generated files put it: the image's folders, port and
 * data volume. The Dockerfile's CMD is `START_ARGV`, so the image runs exactly what `npm start` runs.
 */
import { BUILD_ARGV, HEALTH_PATH, RUNTIME_FILES, SECRET_NAMES, START_ARGV, START_ENV } from "../../scripts/selfhost/start-command.mjs";

export { BUILD_ARGV, HEALTH_PATH, RUNTIME_FILES, SECRET_NAMES, START_ARGV };

/** The project folder inside the image. */
export const APP_DIR = "/app";
/** The data volume: every store lives under it. */
export const DATA_DIR = "/data";
export const PORT = Number(START_ENV.PORT);

/**
 * How long the container runtime waits after SIGTERM before killing (Compose stop_grace_period,
 * Kubernetes terminationGracePeriodSeconds): longer than the server's own drain, so it always ends
 * its stop itself.
 */
export const STOP_GRACE_SECONDS = Number(START_ENV.SHUTDOWN_GRACE_SECONDS) + 10;

/** The environment the image sets: the server's defaults, with the data directory on the volume. */
export const IMAGE_ENV: Record<string, string> = { ...START_ENV, DATA_DIR, NODE_ENV: "production" };

/** Node's base image, pinned to the exact release the project's tests run on (the `node` dev dependency). */
export const NODE_IMAGE = "node:22.23.3-bookworm-slim";

/** The container's health check: Node's fetch, since the slim image has no curl. */
export const HEALTH_CHECK_ARGV = [
  "node",
  "-e",
  `fetch("http://127.0.0.1:" + (process.env.PORT || ${PORT}) + "${HEALTH_PATH}").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
];
