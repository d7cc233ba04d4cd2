/**
 * Construct ids are part of the public API: Terraform keys its state on the logical ids cdktf
 * derives from them, so renaming a construct (or a child inside one) makes the next apply destroy
 * and recreate that resource. This test pins the construct paths and Terraform addresses of the
 * single-region example (the Docker constructs) and the native-single-region example (the native
 * ones). Changing an entry below is a breaking change: note it in CHANGELOG.md.
 * A new element must be added here deliberately (the failure message lists it).
 */
import { TerraformElement, TerraformOutput, TerraformProvider, TerraformResource, TerraformVariable, Testing } from "cdktf";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDeployment } from "../../src/config/load";
import { STACKS } from "../../stacks/registry";

type Pins = ReadonlyArray<readonly [string, string]>;

/** [construct path, Terraform address] of every element of the single-region example's stack. */
const SINGLE_REGION: Pins = [
  ["single-region/secrets/db_password", "var.db_password"],
  ["single-region/secrets/repmgr_password", "var.repmgr_password"],
  ["single-region/secrets/fortigate_token", "var.fortigate_token"],
  ["single-region/pg-1/provider", "provider.docker.pg_1"],
  ["single-region/pg-1/prepare", "terraform_data.pg-1_prepare_FD49CED1"],
  ["single-region/pg-1/image", "docker_image.pg-1_image_524DC0B2"],
  ["single-region/pg-1/data", "docker_volume.pg-1_data_84899B61"],
  ["single-region/pg-1/container", "docker_container.pg-1_container_4AD58B7F"],
  // New: the reconciliation service's install step (docs/topologies/single-region.md).
  ["single-region/pg-1/reconcile", "terraform_data.pg-1_reconcile_5BC07DF2"],
  ["single-region/pg-2/provider", "provider.docker.pg_2"],
  ["single-region/pg-2/prepare", "terraform_data.pg-2_prepare_C13750C9"],
  ["single-region/pg-2/image", "docker_image.pg-2_image_9226BEAE"],
  ["single-region/pg-2/data", "docker_volume.pg-2_data_63B9A20E"],
  ["single-region/pg-2/container", "docker_container.pg-2_container_A322699D"],
  // New: the reconciliation service's install step (docs/topologies/single-region.md).
  ["single-region/pg-2/reconcile", "terraform_data.pg-2_reconcile_7E2DD3FA"],
  ["single-region/pgw-1/provider", "provider.docker.pgw_1"],
  ["single-region/pgw-1/prepare", "terraform_data.pgw-1_prepare_08298837"],
  ["single-region/pgw-1/image", "docker_image.pgw-1_image_8D8E4119"],
  ["single-region/pgw-1/data", "docker_volume.pgw-1_data_A303B503"],
  ["single-region/pgw-1/container", "docker_container.pgw-1_container_7DBA920F"],
  // New: the reconciliation service's install step (docs/topologies/single-region.md).
  ["single-region/pgw-1/reconcile", "terraform_data.pgw-1_reconcile_49421490"],
  ["single-region/primary-ready/wait", "terraform_data.primary-ready_wait_BE5752F1"],
  ["single-region/ems-1/install", "terraform_data.ems-1_install_C860A0A2"],
  ["single-region/ems-2/install", "terraform_data.ems-2_install_DEA27436"],
  ["single-region/fortigate/provider", "provider.fortios.ems_ha"],
  ["single-region/fortigate/health-check", "fortios_firewall_ldbmonitor.fortigate_health-check_4B8B9D29"],
  ["single-region/fortigate/vip-10443", "fortios_firewall_vip.fortigate_vip-10443_C251C8CA"],
  ["single-region/fortigate/vip-443", "fortios_firewall_vip.fortigate_vip-443_62EF8EB0"],
  ["single-region/fortigate/vip-8013", "fortios_firewall_vip.fortigate_vip-8013_14228D72"],
  ["single-region/fortigate/vip-8015", "fortios_firewall_vip.fortigate_vip-8015_58F410A3"],
  ["single-region/fortigate/vip-8871", "fortios_firewall_vip.fortigate_vip-8871_BDDF5622"],
  ["single-region/fortigate/policy", "fortios_firewall_policy.fortigate_policy_8098ED22"],
  ["single-region/gui_checklist", "output.gui_checklist"],
  ["single-region/docker_run_commands", "output.docker_run_commands"],
  ["single-region/fortios_cli", "output.fortios_cli"],
];

/** The same for the native-single-region example's stack. */
const NATIVE_SINGLE_REGION: Pins = [
  ["native-single-region/secrets/db_password", "var.db_password"],
  ["native-single-region/secrets/repmgr_password", "var.repmgr_password"],
  ["native-single-region/secrets/symmetric_key", "var.symmetric_key"],
  // New in the prepare/join split (host preparation on every node at once); the setup addresses are unchanged.
  ["native-single-region/dbnode-1/prepare", "terraform_data.dbnode-1_prepare_6D76847D"],
  ["native-single-region/dbnode-1/setup", "terraform_data.dbnode-1_setup_A8310C74"],
  ["native-single-region/dbnode-2/prepare", "terraform_data.dbnode-2_prepare_371EF59A"],
  ["native-single-region/dbnode-2/setup", "terraform_data.dbnode-2_setup_8C12A528"],
  ["native-single-region/witness-1/prepare", "terraform_data.witness-1_prepare_51DD0EF0"],
  ["native-single-region/witness-1/setup", "terraform_data.witness-1_setup_B902B37F"],
  ["native-single-region/ssh-keys/dbnode-1", "terraform_data.ssh-keys_dbnode-1_C65AF546"],
  ["native-single-region/ssh-keys/dbnode-2", "terraform_data.ssh-keys_dbnode-2_2F14B5DC"],
  // The rolling restart (issue 14 item 5): new steps after the key exchange, before EMS.
  ["native-single-region/rolling-restart/others-dbnode-1", "terraform_data.rolling-restart_others-dbnode-1_AA99E89D"],
  ["native-single-region/rolling-restart/others-dbnode-2", "terraform_data.rolling-restart_others-dbnode-2_E7F464E9"],
  ["native-single-region/rolling-restart/others-witness-1", "terraform_data.rolling-restart_others-witness-1_251A8FDA"],
  ["native-single-region/rolling-restart/primary-dbnode-1", "terraform_data.rolling-restart_primary-dbnode-1_19DD9D18"],
  ["native-single-region/rolling-restart/primary-dbnode-2", "terraform_data.rolling-restart_primary-dbnode-2_EA757C87"],
  ["native-single-region/ems-1/install", "terraform_data.ems-1_install_C860A0A2"],
  ["native-single-region/ems-2/install", "terraform_data.ems-2_install_DEA27436"],
  ["native-single-region/repmgr_nodes", "output.repmgr_nodes"],
  ["native-single-region/gui_checklist", "output.gui_checklist"],
];

const PINNED = { "single-region": SINGLE_REGION, "native-single-region": NATIVE_SINGLE_REGION } as const;

type Stack = ReturnType<NonNullable<(typeof STACKS)["single-region"]>>;

/** The Terraform address of an element: what state and `terraform state list` use. */
function addressOf(stack: Stack, el: TerraformElement): string {
  const logicalId = el.friendlyUniqueId; // honours overrideLogicalId
  void stack;
  if (el instanceof TerraformResource) return `${el.terraformResourceType}.${logicalId}`;
  if (el instanceof TerraformProvider) return `provider.${el.terraformResourceType}${el.alias ? `.${el.alias}` : ""}`;
  if (el instanceof TerraformVariable) return `var.${logicalId}`;
  if (el instanceof TerraformOutput) return `output.${logicalId}`;
  return `${el.constructor.name}.${logicalId}`;
}

function synthExample(topology: keyof typeof PINNED): { elements: Array<[string, string]>; json: Record<string, any> } {
  const deployment = loadDeployment(join(__dirname, "..", "..", "examples", `${topology}.ts`));
  const factory = STACKS[topology];
  if (!factory) throw new Error(`stacks/registry.ts has no ${topology} stack`);
  const stack = factory(Testing.app(), topology, deployment);
  const elements = stack.node
    .findAll()
    .filter((c): c is TerraformElement => c instanceof TerraformElement && c !== (stack as unknown))
    .map((el): [string, string] => [el.node.path, addressOf(stack, el)]);
  return { elements, json: JSON.parse(Testing.synth(stack)) };
}

/** Addresses present in the synthesized JSON, in the same notation. */
function addressesInJson(json: Record<string, any>): string[] {
  const out: string[] = [];
  for (const [type, byId] of Object.entries((json.resource ?? {}) as Record<string, object>)) for (const id of Object.keys(byId)) out.push(`${type}.${id}`);
  for (const [type, list] of Object.entries((json.provider ?? {}) as Record<string, Array<{ alias?: string }>>)) {
    for (const p of list) out.push(`provider.${type}${p.alias ? `.${p.alias}` : ""}`);
  }
  for (const id of Object.keys(json.variable ?? {})) out.push(`var.${id}`);
  for (const id of Object.keys(json.output ?? {})) out.push(`output.${id}`);
  return out.sort();
}

for (const [topology, pins] of Object.entries(PINNED) as Array<[keyof typeof PINNED, Pins]>) {
  describe(`construct ids of the ${topology} example are stable`, () => {
    const { elements, json } = synthExample(topology);
    const actual = new Map(elements);

    it("keeps every pinned construct at its path with its Terraform address", () => {
      const changed = pins
        .filter(([path, address]) => actual.get(path) !== address)
        .map(([path, address]) => `${path}: pinned ${address}, now ${actual.get(path) ?? "(gone)"}`);
      expect(changed, "a construct id changed: this breaks existing state (destroy + create)").toEqual([]);
    });

    it("pins every construct the stack has", () => {
      const pinned = new Set(pins.map(([path]) => path));
      const unpinned = elements.filter(([path]) => !pinned.has(path)).map(([p, a]) => `["${p}", "${a}"],`);
      expect(unpinned, `new constructs: add these lines to the ${topology} list in this file`).toEqual([]);
    });

    it("synthesizes exactly the pinned addresses", () => {
      expect(addressesInJson(json)).toEqual(pins.map(([, a]) => a).sort());
    });
  });
}
