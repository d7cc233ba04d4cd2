/**
 * Where Terraform keeps a deployment's state (the `state` field of a deployment), and where a
 * local state file lands. Credentials are never fields: the schema rejects them by name and
 * says which environment variable carries them (docs/ci.md#remote-state-and-locking).
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";

/** A credential field: present at all is an error naming the environment variable to use. */
function forbidden(envVars: string) {
  return z
    .unknown()
    .refine((v) => v === undefined, `credentials are never written in the deployment (it is committed); set ${envVars} in the environment of terraform instead`)
    .optional();
}

const name = z.string().regex(/^[A-Za-z0-9_./-]{1,200}$/, "must be letters, digits, '_', '.', '/' or '-'");

export const STATE_KINDS = ["local", "s3", "pg", "http", "remote"] as const;

export const stateSchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("local"),
      /**
       * Directory of the state files (one sub-directory per stack). Keep it outside the repository.
       * @default $XDG_STATE_HOME/ems-ha (~/.local/state/ems-ha)
       */
      dir: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("s3"),
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name"),
      /** Object key. @default ems-ha/<stack>/terraform.tfstate */
      key: name.optional(),
      region: z.string().regex(/^[a-z0-9-]+$/, "must be an AWS region like eu-west-1"),
      /** Lock with a lock file next to the state (Terraform >= 1.10). @default true unless dynamodbTable is set */
      useLockfile: z.boolean().optional(),
      /** Lock with a DynamoDB table (older Terraform). */
      dynamodbTable: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{3,255}$/)
        .optional(),
      /** Server-side encryption of the state object. @default true */
      encrypt: z.boolean().default(true),
      kmsKeyId: z.string().min(1).optional(),
      /** S3-compatible endpoint (MinIO, ...). */
      endpoint: z.string().url().optional(),
      /** A named profile of ~/.aws/config (no secret in the name). */
      profile: z.string().min(1).optional(),
      accessKey: forbidden("AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or the CI's OIDC role)"),
      secretKey: forbidden("AWS_SECRET_ACCESS_KEY"),
      token: forbidden("AWS_SESSION_TOKEN"),
    })
    .strict(),
  z
    .object({
      kind: z.literal("pg"),
      /** PostgreSQL schema holding this stack's state. @default ems_ha_<stack> ('-' as '_') */
      schemaName: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a PostgreSQL identifier like ems_ha_prod")
        .optional(),
      connStr: forbidden("PG_CONN_STR (postgres://user@host/db?sslmode=require) and PGPASSWORD"),
      password: forbidden("PGPASSWORD"),
    })
    .strict(),
  z
    .object({
      kind: z.literal("http"),
      /** State URL; no user:password@ in it. Each stack needs its own address: {stack} is replaced by the stack id. */
      address: z
        .string()
        .url()
        .refine((u) => /^https?:\/\//.test(u), "must be an http(s) URL")
        .refine((u) => !/^https?:\/\/[^/]*@/.test(u), "must not hold user:password@ (set TF_HTTP_USERNAME / TF_HTTP_PASSWORD)"),
      lockAddress: z.string().url().optional(),
      unlockAddress: z.string().url().optional(),
      lockMethod: z
        .string()
        .regex(/^[A-Z]+$/)
        .optional(),
      unlockMethod: z
        .string()
        .regex(/^[A-Z]+$/)
        .optional(),
      username: forbidden("TF_HTTP_USERNAME"),
      password: forbidden("TF_HTTP_PASSWORD"),
    })
    .strict(),
  z
    .object({
      kind: z.literal("remote"),
      /** HCP Terraform / Terraform Enterprise host. @default "app.terraform.io" */
      hostname: z
        .string()
        .regex(/^[A-Za-z0-9.-]+$/)
        .default("app.terraform.io"),
      organization: z.string().regex(/^[A-Za-z0-9_-]+$/, "must be an organization name"),
      /** Workspace name; {stack} is replaced by the stack id. @default "{stack}" */
      workspace: z
        .string()
        .regex(/^[A-Za-z0-9_{}-]+$/)
        .default("{stack}"),
      project: z.string().min(1).optional(),
      token: forbidden("TF_TOKEN_app_terraform_io (TF_TOKEN_<host with . as _>)"),
    })
    .strict(),
]);
export type StateSettings = z.infer<typeof stateSchema>;

/** The directory local state goes to by default: $XDG_STATE_HOME/ems-ha, else ~/.local/state/ems-ha. */
export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), ".local", "state"), "ems-ha");
}

/** cdktf's own default, in the directory synthesis runs in (the repository): kept when a state is already there. */
export function legacyStatePath(stackId: string, cwd: string): string {
  return join(cwd, `terraform.${stackId}.tfstate`);
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  return p === "~" || p.startsWith("~/") ? join(env.HOME || homedir(), p.slice(1)) : p;
}

/**
 * The local state file of a stack: $EMS_HA_TF_STATE_DIR (the lab's override), then an existing
 * state at cdktf's old default (never abandon a state), then state.dir, then the default root.
 * Undefined for remote backends.
 */
export function localStatePath(state: StateSettings | undefined, stackId: string, cwd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (state && state.kind !== "local") return undefined;
  if (env.EMS_HA_TF_STATE_DIR) return join(resolve(cwd, expandHome(env.EMS_HA_TF_STATE_DIR, env)), `terraform.${stackId}.tfstate`);
  const legacy = legacyStatePath(stackId, cwd);
  if (existsSync(legacy)) return legacy;
  const root = state?.dir ? resolve(cwd, expandHome(state.dir, env)) : defaultStateRoot(env);
  return join(root, stackId, "terraform.tfstate");
}

/** The git work tree holding `path` (a directory with .git), if any. */
export function repositoryOf(path: string): string | undefined {
  let dir = resolve(path);
  for (let i = 0; i < 100; i++) {
    if (existsSync(join(dir, ".git"))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return undefined;
}
