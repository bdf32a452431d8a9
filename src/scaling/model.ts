/** What an agent's autoscaler keeps, shared by the scaling service and the agent's Durable Object. */

/** How often an agent with autoscaling on applies its own recommendation. */
export const AUTOSCALE_INTERVAL_MS = 30_000;

export interface AutoscalePolicy {
  enabled: boolean;
  min_instances: number;
  max_instances: number;
  /** Epoch ms of the last change; null when never configured. */
  updated_at: number | null;
}
