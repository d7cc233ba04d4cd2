/**
 * IDeployStep: the one member every ems-ha construct exposes to be depended on, and the
 * `Dependency` type every `dependsOn` prop takes.
 *
 * A construct's `done` lists the Terraform elements after which its work is finished (a DB
 * node: its container; an EMS node: its install step; a cluster: its last steps). A later
 * step waits for a construct by naming the construct itself in its `dependsOn`; ems-ha turns
 * that into the construct's `done`. Any Terraform resource of your own works there too.
 */
import { TerraformResource, type ITerraformDependable } from "cdktf";
import type { IConstruct } from "constructs";

export interface IDeployStep {
  /**
   * The Terraform elements after which this construct's work is done: what a later step waits for.
   * Empty when the construct creates nothing to wait for (DeploymentSecrets, an existing database).
   */
  readonly done: ITerraformDependable[];
}

/** What a `dependsOn` prop takes: an ems-ha construct (its `done`) or any Terraform resource. */
export type Dependency = IDeployStep | ITerraformDependable;

/** True for an object that exposes `done` (every ems-ha construct and composite). */
export function isDeployStep(x: unknown): x is IDeployStep {
  return typeof x === "object" && x !== null && Array.isArray((x as { done?: unknown }).done);
}

/** The Terraform elements a `dependsOn` list stands for, in order, each once. */
export function dependables(list?: ReadonlyArray<Dependency>): ITerraformDependable[] {
  const out: ITerraformDependable[] = [];
  for (const x of list ?? []) for (const d of isDeployStep(x) ? x.done : [x]) if (!out.includes(d)) out.push(d);
  return out;
}

/** `dependables(list)`, or undefined when no list is given (no `depends_on` is written then). */
export function dependablesOrNone(list?: ReadonlyArray<Dependency>): ITerraformDependable[] | undefined {
  return list === undefined ? undefined : dependables(list);
}

/** Every Terraform resource under a construct, in creation order: the `done` of a construct that is finished when all of them are. */
export function resourcesUnder(scope: IConstruct): TerraformResource[] {
  return scope.node.findAll().filter((c): c is TerraformResource => TerraformResource.isTerraformResource(c));
}
