/**
 * Lab benchmark: boots a fresh lab, deploys the native stack with real Terraform (wall time
 * and critical path per step), and runs the failover drill, once with the guide's repmgr
 * settings (6 x 10 s) and once with the tuned profile (3 x 2 s). Needs root (docs/lab.md).
 */
import { labDeployment, type LabFailover } from "../examples/lab";
import { formatApply, labDeploy } from "../lab/lib/deploy";
import { formatDrill, labDrill, type DrillResult } from "../lab/lib/drill";
import { bootFreshLab, chooseFreshLab } from "../lab/lib/fresh-lab";
import { labDown } from "../lab/lib/lab";

export interface LabProfileResult {
  readonly profile: LabFailover;
  readonly labUpSeconds: number;
  readonly deploy: {
    readonly synthSeconds: number;
    readonly initSeconds: number;
    readonly applySeconds: number;
    readonly criticalPath: Array<{ step: string; seconds: number }>;
    readonly steps: Array<{ step: string; start: number; seconds: number }>;
  };
  readonly drill: Omit<DrillResult, "clusterShow">;
}

const name = (address: string) => address.replace(/^terraform_data\./, "").replace(/_[0-9A-F]{8}$/, "");

export async function benchLab(profiles: LabFailover[] = ["guide", "tuned"]): Promise<LabProfileResult[]> {
  const out: LabProfileResult[] = [];
  for (const profile of profiles) {
    const options = {
      what: "the lab benchmark",
      candidates: Array.from({ length: 10 }, (_, i) => `10.231.${240 + i}`),
      deployment: (prefix: string) => labDeployment(prefix, profile),
      needTerraform: true,
    };
    const chosen = chooseFreshLab(options);
    const stateDir = chosen.stateDir;
    const log = (m: string) => process.stderr.write(`[bench ${profile}] ${m}\n`);
    try {
      const { state, upSeconds: labUpSeconds } = await bootFreshLab(options, chosen);
      log(`lab up in ${labUpSeconds.toFixed(1)} s; deploying`);
      const dep = await labDeploy(state, { failover: profile, log: () => undefined });
      console.log(`\nDeploy (${profile} failover settings)\n${formatApply(dep.apply)}`);
      log("drill");
      const drill = await labDrill(state, { log, failoverTimeoutSeconds: 300 });
      console.log(`\nDrill (${profile})\n${formatDrill(drill)}`);
      const { clusterShow: _ignored, ...drillFigures } = drill;
      out.push({
        profile,
        labUpSeconds: Math.round(labUpSeconds * 10) / 10,
        deploy: {
          synthSeconds: Math.round(dep.synthSeconds * 10) / 10,
          initSeconds: Math.round(dep.initSeconds * 10) / 10,
          applySeconds: dep.apply.wallSeconds,
          criticalPath: dep.apply.criticalPath.map((s) => ({ step: name(s.address), seconds: s.seconds })),
          steps: dep.apply.steps.map((s) => ({ step: name(s.address), start: s.startSeconds, seconds: s.seconds })),
        },
        drill: drillFigures,
      });
    } finally {
      await labDown(stateDir, { log: () => undefined });
    }
  }
  console.log("\nFailover (primary stopped -> standby writable)");
  console.log("| profile | reconnect | failover s | rows acked | rows missing | rejoin s | writable primaries after |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of out) {
    const d = r.drill;
    console.log(
      `| ${r.profile} | ${d.reconnect.attempts} x ${d.reconnect.intervalSeconds} s | ${d.failoverSeconds ?? "timeout"} | ${d.rowsAcknowledged} | ${d.rowsMissing} | ${d.rejoinSeconds ?? "-"} | ${d.writablePrimaries} |`,
    );
  }
  return out;
}
