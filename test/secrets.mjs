/**
 * The test Worker's secrets, in one place: vitest.config.ts binds them, and the test helpers sign
 * and authenticate with them.
 */
export const JWT_SECRET = "test-secret-please-change-0123456789";
export const ADMIN_KEY = "dmsa_test_admin_key";
