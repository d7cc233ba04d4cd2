/**
 * LiteralOutput: a TerraformOutput whose value is text for people (commands to paste, checklists,
 * CLI scripts), written so that Terraform takes every string literally. In Terraform JSON every
 * string is a template: a `${...}` or `%{...}` in a value taken from the deployment would be
 * evaluated by whoever runs the plan. Every string in the value goes through terraformLiteral.
 */
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { terraformLiteral } from "../src/render/escape";

export interface LiteralOutputProps {
  /** Plain text, or lists/records of it (no Terraform references). */
  readonly value: unknown;
  readonly description?: string;
  /** @default false */
  readonly sensitive?: boolean;
}

function literal(v: unknown): unknown {
  if (typeof v === "string") return terraformLiteral(v);
  if (Array.isArray(v)) return v.map(literal);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, literal(x)]));
  return v;
}

export class LiteralOutput extends TerraformOutput {
  constructor(scope: Construct, id: string, props: LiteralOutputProps) {
    super(scope, id, { value: literal(props.value), description: props.description, sensitive: props.sensitive });
  }
}
