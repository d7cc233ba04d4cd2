/**
 * Walking plan values with their masks: which leaves changed between `before` and `after`,
 * which are sensitive (never printed) and which are unknown until apply.
 */

export type AttrPath = ReadonlyArray<string | number>;

/** `true` when the mask marks `path` (or one of its prefixes) with `true`. */
export function marked(mask: unknown, path: AttrPath): boolean {
  let m: unknown = mask;
  if (m === true) return true;
  for (const part of path) {
    if (m === null || typeof m !== "object") return false;
    m = (m as Record<string | number, unknown>)[part as string];
    if (m === true) return true;
  }
  return false;
}

export function getPath(value: unknown, path: AttrPath): unknown {
  let v: unknown = value;
  for (const part of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[part as string];
  }
  return v;
}

export function pathText(path: AttrPath): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

export interface LeafChange {
  readonly path: AttrPath;
  readonly before: unknown;
  readonly after: unknown;
  /** Sensitive before or after: the values must never be shown. */
  readonly sensitive: boolean;
  /** The new value is known only after apply. */
  readonly unknown: boolean;
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return v !== null && typeof v === "object";
}

/**
 * Leaves that differ. Lists of `KEY=value` strings (docker env) are compared by key, so an
 * inserted variable is one change, not a shifted list; the path then ends in the key.
 */
export function changedLeaves(
  before: unknown,
  after: unknown,
  masks: { beforeSensitive?: unknown; afterSensitive?: unknown; afterUnknown?: unknown },
  path: AttrPath = [],
): LeafChange[] {
  const sensitive = (p: AttrPath) => marked(masks.beforeSensitive, p) || marked(masks.afterSensitive, p);
  const unknown = marked(masks.afterUnknown, path);
  if (unknown) {
    return [{ path, before, after: undefined, sensitive: sensitive(path), unknown: true }];
  }
  if (isEnvList(before) && isEnvList(after)) return envChanges(before, after, masks, path);
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = new Set<string | number>();
    if (Array.isArray(before) && Array.isArray(after)) {
      for (let i = 0; i < Math.max(before.length, after.length); i++) keys.add(i);
    } else {
      for (const k of Object.keys(before)) keys.add(k);
      for (const k of Object.keys(after)) keys.add(k);
      // an unknown key exists only in the mask
      if (isContainer(masks.afterUnknown)) for (const k of Object.keys(getPath(masks.afterUnknown, path) ?? {})) keys.add(k);
    }
    const out: LeafChange[] = [];
    for (const k of keys) {
      out.push(
        ...changedLeaves((before as Record<string | number, unknown>)[k as string], (after as Record<string | number, unknown>)[k as string], masks, [
          ...path,
          k,
        ]),
      );
    }
    return out;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path, before, after, sensitive: sensitive(path), unknown: false }];
}

function isEnvList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string" && /^[A-Za-z_][A-Za-z0-9_]*=/.test(x));
}

function envChanges(before: string[], after: string[], masks: { beforeSensitive?: unknown; afterSensitive?: unknown }, path: AttrPath): LeafChange[] {
  const index = (list: string[], mask: unknown) => {
    const m = new Map<string, { value: string; sensitive: boolean }>();
    list.forEach((e, i) => {
      const eq = e.indexOf("=");
      m.set(e.slice(0, eq), { value: e.slice(eq + 1), sensitive: marked(mask, [...path, i]) });
    });
    return m;
  };
  const b = index(before, masks.beforeSensitive);
  const a = index(after, masks.afterSensitive);
  const out: LeafChange[] = [];
  for (const key of new Set([...b.keys(), ...a.keys()])) {
    const x = b.get(key);
    const y = a.get(key);
    if (x?.value === y?.value) continue;
    out.push({ path: [...path, key], before: x?.value, after: y?.value, sensitive: (x?.sensitive ?? false) || (y?.sensitive ?? false), unknown: false });
  }
  return out;
}
