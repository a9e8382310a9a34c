import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    // End-to-end tests spawn real processes and wait on real signals.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks"
  }
})
