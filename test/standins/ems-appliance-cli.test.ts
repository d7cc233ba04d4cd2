/**
 * The appliance stand-in's host key: ssh2's ed25519 generator makes about one pair in 256 that its
 * own parser rejects, which once failed a CI run ("Cannot parse privateKey: Malformed OpenSSH
 * private key" when the stand-in's SSH server started). 2,000 pairs without one bad one: with the
 * bug unguarded the chance of that is about 0.04 %.
 */
import { utils } from "ssh2";
import { describe, expect, it } from "vitest";
import { ed25519KeyPair } from "./ems-appliance-cli";

describe("appliance stand-in host keys", () => {
  it("every ed25519 pair drawn is one ssh2 can parse, public and private", () => {
    const bad: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const pair = ed25519KeyPair();
      for (const k of [pair.public, pair.private]) {
        const parsed = utils.parseKey(k);
        if (parsed instanceof Error) bad.push(`${parsed.message}: ${k}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
