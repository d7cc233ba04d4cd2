import { defineConfig } from "vitest/config";
import { shared } from "./vitest.config";

/** `npm run test:drills`: the long lab drills (test/drills/), see docs/lab.md, "Two tiers of lab tests". */
export default defineConfig({
  test: {
    ...shared,
    include: ["test/drills/**/*.test.ts"],
  },
});
