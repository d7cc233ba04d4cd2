/**
 * cdktf checks the Terraform version once per terraform_data resource, each time by running
 * `terraform version` (about 0.2 s a process): with the six example stacks that was 5 of the
 * 6.5 s of `cdktf synth`. The answer cannot change during one synthesis, so each distinct
 * check runs once. The validation itself is unchanged: an old or missing Terraform still fails.
 */
interface BinaryVersionValidation {
  versionCommand: string;
  versionConstraint: string;
  validate(): string[];
}

let installed = false;

export function cacheBinaryVersionChecks(): void {
  if (installed) return;
  installed = true;
  // Not exported from cdktf's index; the class lives in this module since cdktf 0.13.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require("cdktf/lib/validations/validate-binary-version") as { ValidateBinaryVersion?: { prototype: BinaryVersionValidation } };
  const proto = mod.ValidateBinaryVersion?.prototype;
  if (!proto) return; // a cdktf without it: nothing to speed up
  const original = proto.validate;
  const cache = new Map<string, string[]>();
  proto.validate = function (this: BinaryVersionValidation): string[] {
    const key = `${this.versionCommand}\u0000${this.versionConstraint}`;
    let result = cache.get(key);
    if (!result) {
      result = original.call(this);
      cache.set(key, result);
    }
    return [...result];
  };
}
