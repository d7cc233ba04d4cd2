/**
 * Terraform addresses of the ssh engine's DB steps, pinned like test/constructs/construct-ids.test.ts
 * does for the provider engine: a renamed construct would make the next apply replace the step (and
 * run the container script again). The prepare step keeps the provider engine's address, so a
 * switch of engine does not run it again.
 */
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { synthDeployment } from "../helpers/synth";

const SSH_ENGINE_DB_STEPS = [
  "terraform_data.pg-1_prepare_FD49CED1",
  "terraform_data.pg-1_container_4AD58B7F",
  "terraform_data.pg-2_prepare_C13750C9",
  "terraform_data.pg-2_container_A322699D",
  "terraform_data.pgw-1_prepare_08298837",
  "terraform_data.pgw-1_container_7DBA920F",
  "terraform_data.primary-ready_wait_BE5752F1",
  // The reconciliation service's install step on each DB host (the same for both engines).
  "terraform_data.pg-1_reconcile_5BC07DF2",
  "terraform_data.pg-2_reconcile_7E2DD3FA",
  "terraform_data.pgw-1_reconcile_49421490",
];

describe("ssh engine addresses (single-region example)", () => {
  it("pins the DB steps and keeps the provider engine's prepare addresses", () => {
    const ssh = synthDeployment({ ...example, database: { ...example.database, docker: { engine: "ssh" } } }).json;
    const provider = synthDeployment(example).json;
    const db = Object.keys(ssh.resource.terraform_data!)
      .filter((id) => !id.startsWith("ems-"))
      .map((id) => `terraform_data.${id}`);
    expect(db.sort()).toEqual([...SSH_ENGINE_DB_STEPS].sort());
    const providerPrepare = Object.keys(provider.resource.terraform_data!).filter((id) => id.includes("_prepare_"));
    expect(providerPrepare.map((id) => `terraform_data.${id}`).sort()).toEqual(SSH_ENGINE_DB_STEPS.filter((a) => a.includes("_prepare_")).sort());
    const providerReconcile = Object.keys(provider.resource.terraform_data!).filter((id) => id.includes("_reconcile_"));
    expect(providerReconcile.map((id) => `terraform_data.${id}`).sort()).toEqual(SSH_ENGINE_DB_STEPS.filter((a) => a.includes("_reconcile_")).sort());
  });
});
