/** The host key policy: reading OpenSSH known_hosts files (plain, hashed by ssh-keygen -H, patterns) and deciding. */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideHostKey, hostKeyAlgorithms, hostKeyPolicyFromEnv, keyTypeOf, knownKeys, recordHostKey } from "../../src/ops/known-hosts";
import { tempDir } from "../helpers/tmp";

let dir = "";
const keys: Record<string, { line: string; blob: Buffer }> = {};

function keygen(name: string, type: string): void {
  const r = spawnSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", join(dir, name)], { timeout: 20_000 });
  if (r.status !== 0) throw new Error(`ssh-keygen (package openssh-client) failed: ${r.stderr}`);
  const line = readFileSync(join(dir, `${name}.pub`), "utf8")
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .join(" ");
  keys[name] = { line, blob: Buffer.from(line.split(" ")[1]!, "base64") };
}

beforeAll(() => {
  dir = tempDir("ems-ha-kh-");
  keygen("a", "ed25519");
  keygen("b", "ed25519");
  keygen("r", "ecdsa");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const policy = (path: string, insecure = false) => ({ knownHostsPath: path, insecure });

describe("known_hosts", () => {
  it("reads the key type from the key blob", () => {
    expect(keyTypeOf(keys.a!.blob)).toBe("ssh-ed25519");
    expect(keyTypeOf(keys.r!.blob)).toBe("ecdsa-sha2-nistp256");
  });

  it("matches plain names, [host]:port, patterns and negations", () => {
    const text = [
      `10.0.0.1 ${keys.a!.line}`,
      `[10.0.0.2]:2222 ${keys.b!.line}`,
      `10.0.1.*,!10.0.1.9 ${keys.r!.line}`,
      `# comment`,
      `@cert-authority * ${keys.a!.line}`,
    ].join("\n");
    expect(knownKeys(text, "10.0.0.1", 22).map((k) => k.key.equals(keys.a!.blob))).toEqual([true]);
    expect(knownKeys(text, "10.0.0.1", 2222)).toEqual([]);
    expect(knownKeys(text, "10.0.0.2", 2222).map((k) => k.type)).toEqual(["ssh-ed25519"]);
    expect(knownKeys(text, "10.0.1.5", 22).map((k) => k.type)).toEqual(["ecdsa-sha2-nistp256"]);
    expect(knownKeys(text, "10.0.1.9", 22)).toEqual([]);
  });

  it("matches names hashed by ssh-keygen -H", () => {
    const file = join(dir, "hashed");
    writeFileSync(file, `[db1.example]:2200 ${keys.a!.line}\nother.example ${keys.b!.line}\n`);
    const r = spawnSync("ssh-keygen", ["-H", "-f", file], { timeout: 20_000 });
    expect(r.status).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("db1.example");
    expect(knownKeys(text, "db1.example", 2200).map((k) => k.key.equals(keys.a!.blob))).toEqual([true]);
    expect(knownKeys(text, "db1.example", 22)).toEqual([]);
    expect(knownKeys(text, "other.example", 22).map((k) => k.key.equals(keys.b!.blob))).toEqual([true]);
  });

  it("trusts on first use, accepts the recorded key, refuses another one", () => {
    const file = join(dir, "tofu");
    const p = policy(file);
    expect(decideHostKey(p, [], "10.0.0.5", 22, keys.a!.blob)).toEqual({ accept: true, record: true });
    recordHostKey(p, "10.0.0.5", 22, keys.a!.blob);
    expect(readFileSync(file, "utf8")).toBe(`10.0.0.5 ${keys.a!.line}\n`);
    const known = knownKeys(readFileSync(file, "utf8"), "10.0.0.5", 22);
    expect(decideHostKey(p, known, "10.0.0.5", 22, keys.a!.blob)).toEqual({ accept: true, record: false });
    const refused = decideHostKey(p, known, "10.0.0.5", 22, keys.b!.blob);
    expect(refused.accept).toBe(false);
    expect(!refused.accept && refused.reason).toMatch(/does not match the one recorded in .*tofu.*ssh-keygen -R '10\.0\.0\.5'/);
    expect(decideHostKey(policy(file, true), known, "10.0.0.5", 22, keys.b!.blob)).toEqual({ accept: true, record: false });
  });

  it("offers only the recorded key types to a known host", () => {
    expect(hostKeyAlgorithms([])).toBeUndefined();
    expect(hostKeyAlgorithms(knownKeys(`h ${keys.r!.line}`, "h", 22))).toEqual(["ecdsa-sha2-nistp256"]);
    expect(hostKeyAlgorithms([{ type: "ssh-rsa", key: Buffer.alloc(0) }])).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
  });

  it("takes its file and the insecure switch from the environment", () => {
    expect(hostKeyPolicyFromEnv({ HOME: "/home/u" })).toEqual({ knownHostsPath: "/home/u/.config/ems-ha/known_hosts", insecure: false });
    expect(hostKeyPolicyFromEnv({ HOME: "/home/u", EMS_HA_KNOWN_HOSTS: "~/kh", EMS_HA_INSECURE_HOST_KEYS: "1" })).toEqual({
      knownHostsPath: "/home/u/kh",
      insecure: true,
    });
    expect(hostKeyPolicyFromEnv({ HOME: "/h", EMS_HA_INSECURE_HOST_KEYS: "0" }).insecure).toBe(false);
  });
});
