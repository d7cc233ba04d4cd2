/**
 * Every field of the deployment schema, walked from the zod schema at run time: dotted path (array
 * items as `[]`), and the default when the schema has one. Used to check docs/configuration.md.
 */
import { z } from "zod";

export interface SchemaField {
  /** e.g. database.nodes[].ssh.port */
  readonly path: string;
  readonly hasDefault: boolean;
  readonly defaultValue?: unknown;
  /** An object (or a list of objects): its fields are listed on their own. */
  readonly container: boolean;
}

function unwrap(t: z.ZodTypeAny): { inner: z.ZodTypeAny; hasDefault: boolean; defaultValue?: unknown } {
  let hasDefault = false;
  let defaultValue: unknown;
  let cur = t;
  for (let i = 0; i < 20; i++) {
    if (cur instanceof z.ZodDefault) {
      if (!hasDefault) {
        hasDefault = true;
        defaultValue = (cur._def.defaultValue as () => unknown)();
      }
      cur = cur._def.innerType as z.ZodTypeAny;
    } else if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodTypeAny;
    else if (cur instanceof z.ZodEffects) cur = cur.innerType() as z.ZodTypeAny;
    else if (cur instanceof z.ZodBranded) cur = cur.unwrap() as z.ZodTypeAny;
    else if (cur instanceof z.ZodPipeline) cur = cur._def.in as z.ZodTypeAny;
    else if (cur instanceof z.ZodLazy) cur = cur.schema as z.ZodTypeAny;
    else break;
  }
  return { inner: cur, hasDefault, defaultValue };
}

/** The object shapes a type stands for (one per union member), or none for a leaf. */
function shapesOf(t: z.ZodTypeAny): Array<Record<string, z.ZodTypeAny>> {
  if (t instanceof z.ZodObject) return [t.shape as Record<string, z.ZodTypeAny>];
  if (t instanceof z.ZodDiscriminatedUnion || t instanceof z.ZodUnion) {
    const options = (t instanceof z.ZodDiscriminatedUnion ? [...t.options.values()] : t.options) as z.ZodTypeAny[];
    return options.flatMap((o) => shapesOf(unwrap(o).inner));
  }
  if (t instanceof z.ZodIntersection) return [...shapesOf(unwrap(t._def.left).inner), ...shapesOf(unwrap(t._def.right).inner)];
  return [];
}

export function schemaFields(schema: z.ZodTypeAny): SchemaField[] {
  const out = new Map<string, SchemaField>();
  const walk = (t: z.ZodTypeAny, prefix: string) => {
    for (const shape of shapesOf(t)) {
      for (const [key, child] of Object.entries(shape)) {
        const path = prefix ? `${prefix}.${key}` : key;
        const { inner, hasDefault, defaultValue } = unwrap(child);
        let element = inner;
        let itemPath = path;
        if (inner instanceof z.ZodArray) {
          element = unwrap(inner.element as z.ZodTypeAny).inner;
          itemPath = `${path}[]`;
        }
        const container = shapesOf(element).length > 0;
        if (!out.has(path)) out.set(path, { path, hasDefault, ...(hasDefault ? { defaultValue } : {}), container });
        if (container) walk(element, itemPath);
      }
    }
  };
  walk(unwrap(schema).inner, "");
  return [...out.values()];
}
