import { placeholderChecksums } from "../../config/checksums";
import { showValue } from "../../config/errors";
import type { TopologyRule } from "./rule";

/**
 * A checksum that is a placeholder (the examples' 64 zeros). A warning for `ems-ha check`;
 * synth and deploy refuse it (assertRealChecksums in src/config/checksums.ts).
 */
export const placeholderChecksum: TopologyRule = {
  id: "placeholder-checksum",
  level: "warning",
  summary: "every sha256 is the real checksum of its file (synth and deploy refuse a placeholder)",
  check: (d) =>
    placeholderChecksums(d).map((i) => ({
      nodes: [],
      message: `${i.path}: ${i.message} (got ${showValue(i.value)}); synth and deploy refuse it`,
      fix: i.fix,
    })),
};
