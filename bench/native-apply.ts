/**
 * One native lab apply, timed: boots a fresh lab, deploys the native-single-region lab
 * deployment with real Terraform, prints the steps and the critical path, takes the lab down.
 * `npx tsx bench/native-apply.ts` (root; docs/lab.md). The figures are in docs/performance.md.
 */
import { labDeployment } from "../examples/lab";
import { formatApply, labDeploy } from "../lab/lib/deploy";
import { bootFreshLab, chooseFreshLab } from "../lab/lib/fresh-lab";
import { labDown } from "../lab/lib/lab";

async function main(): Promise<void> {
  const options = {
    what: "the native apply benchmark",
    candidates: Array.from({ length: 10 }, (_, i) => `10.233.${50 + i}`),
    deployment: (prefix: string) => labDeployment(prefix, "tuned"),
    needTerraform: true,
  };
  const chosen = chooseFreshLab(options);
  const log = (m: string) => process.stderr.write(`[native-apply] ${m}\n`);
  try {
    const { state, upSeconds } = await bootFreshLab({ ...options, log }, chosen);
    log(`lab up in ${upSeconds.toFixed(1)} s; deploying`);
    const dep = await labDeploy(state, { failover: "tuned", log: () => undefined });
    console.log(formatApply(dep.apply));
    console.log(
      `critical path: ${dep.apply.criticalPath.map((s) => `${s.address.replace(/^terraform_data\./, "").replace(/_[0-9A-F]{8}$/, "")} ${s.seconds} s`).join(" -> ")}`,
    );
  } finally {
    await labDown(chosen.stateDir, { log: () => undefined });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exitCode = 1;
});
