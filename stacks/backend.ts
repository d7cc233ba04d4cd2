/**
 * The deployment's `state` applied to its stack with cdktf's backend constructs. Credentials come
 * from the environment of terraform (docs/ci.md#remote-state-and-locking), never from here.
 */
import { CloudBackend, HttpBackend, LocalBackend, NamedCloudWorkspace, PgBackend, S3Backend, type TerraformStack } from "cdktf";
import type { Deployment } from "../src/config/schema";
import { localStatePath } from "../src/config/state";

/** `{stack}` in a backend setting -> the stack id. */
function perStack(text: string, stackId: string): string {
  return text.replace(/\{stack\}/g, stackId);
}

export function applyStateBackend(stack: TerraformStack, stackId: string, d: Deployment, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): void {
  const s = d.state;
  switch (s?.kind) {
    case undefined:
    case "local":
      new LocalBackend(stack, { path: localStatePath(s, stackId, cwd, env)! });
      return;
    case "s3": {
      const b = new S3Backend(stack, {
        bucket: s.bucket,
        key: s.key ? perStack(s.key, stackId) : `ems-ha/${stackId}/terraform.tfstate`,
        region: s.region,
        encrypt: s.encrypt,
        kmsKeyId: s.kmsKeyId,
        dynamodbTable: s.dynamodbTable,
        profile: s.profile,
        ...(s.endpoint ? { endpoint: s.endpoint, forcePathStyle: true } : {}),
      });
      // use_lockfile (Terraform >= 1.10) is not in cdktf 0.21's S3BackendConfig.
      if (s.useLockfile ?? s.dynamodbTable === undefined) b.addOverride("use_lockfile", true);
      return;
    }
    case "pg": {
      // conn_str stays unset: terraform reads PG_CONN_STR (and PGPASSWORD & co.) from its environment.
      const b = new PgBackend(stack, { connStr: "", schemaName: s.schemaName ?? `ems_ha_${stackId.replace(/-/g, "_")}` });
      b.addOverride("conn_str", undefined);
      return;
    }
    case "http":
      new HttpBackend(stack, {
        address: perStack(s.address, stackId),
        lockAddress: s.lockAddress ? perStack(s.lockAddress, stackId) : undefined,
        unlockAddress: s.unlockAddress ? perStack(s.unlockAddress, stackId) : undefined,
        lockMethod: s.lockMethod,
        unlockMethod: s.unlockMethod,
      });
      return;
    case "remote":
      new CloudBackend(stack, {
        hostname: s.hostname,
        organization: s.organization,
        workspaces: new NamedCloudWorkspace(perStack(s.workspace, stackId), s.project),
      });
      return;
  }
}
