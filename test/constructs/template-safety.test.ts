/**
 * In Terraform JSON every string is a template: a bash `${x}` or `%{` left in a script would be
 * read as an interpolation and break the plan. Every example stack is checked: each `${` must be
 * escaped (`$${`) or start a Terraform expression (a variable, a resource reference or a function).
 */
import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { TOPOLOGIES } from "../../src/config/schema";
import { readDeploymentInput } from "../../src/config/load";
import { STACKS } from "../../stacks/registry";
import { synthDeployment } from "../helpers/synth";

const TERRAFORM_EXPR =
  /^\$\{(var\.|local\.|self\.|path\.|terraform_data\.|docker_[a-z_]+\.|fortios_[a-z_]+\.|data\.|(fileexists|file|pathexpand|jsonencode|sha256|base64encode|join|tostring|nonsensitive|sensitive|null)\b)/;

function* strings(value: unknown, path: string): Generator<[string, string]> {
  if (typeof value === "string") yield [path, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, `${path}[${i}]`);
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) yield* strings(v, `${path}.${k}`);
}

function badTemplates(json: unknown): string[] {
  const bad: string[] = [];
  for (const [path, s] of strings(json, "")) {
    for (let i = s.indexOf("${"); i >= 0; i = s.indexOf("${", i + 2)) {
      if (i > 0 && s[i - 1] === "$") continue; // escaped
      if (!TERRAFORM_EXPR.test(s.slice(i))) bad.push(`${path}: ...${s.slice(Math.max(0, i - 20), i + 30)}...`);
    }
    for (let i = s.indexOf("%{"); i >= 0; i = s.indexOf("%{", i + 2)) {
      if (i > 0 && s[i - 1] === "%") continue;
      bad.push(`${path}: directive ...${s.slice(Math.max(0, i - 20), i + 30)}...`);
    }
  }
  return bad;
}

describe("generated scripts are literal in Terraform JSON", () => {
  const examples = TOPOLOGIES.filter((t) => STACKS[t] && existsSync(join(__dirname, "../../examples", `${t}.ts`)));

  it("covers every registered stack", () => {
    expect(examples.length).toBe(Object.keys(STACKS).length);
  });

  for (const t of examples) {
    it(`${t}: no unescaped template sequence`, () => {
      const { json } = synthDeployment(readDeploymentInput(join(__dirname, "../../examples", `${t}.ts`)) as never);
      expect(badTemplates(json)).toEqual([]);
    });
  }

  it("detects a bash expansion left unescaped", () => {
    expect(badTemplates({ content: 'echo "${HOME}"' })).toHaveLength(1);
    expect(badTemplates({ content: 'echo "$${HOME}" ${var.x}' })).toEqual([]);
  });
});
