import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { DescMessage, DescMethod, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { AdminService, SpendDimension } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { keyIdOf, mintKey } from "../../src/policy/api-key.ts";
import { PERMISSIONS, type Permission, ROLES } from "../../src/policy/rbac.ts";
import { allClients, type TestClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

/*
 * The whole role × RPC permission matrix, generated from src/policy/rbac.ts, plus privilege
 * escalation attempts and malformed API keys on every client stack.
 */

const A = AdminService.method;
const M = InferenceService.method;
const ADMIN = mintKey().secret;
const TEAM = "t1";
const auth = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: small }\n" +
        "  vectors:\n    operations: [embed]\n    targets:\n      - { backend: echo, model: echo-embed }\n",
      "",
      "auth: { enabled: true, cacheTtlMs: 60000 }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: ADMIN },
  );
});
after(() => gw.stop());

/** A fresh gRPC (connect-node) client; index 1 of the four stacks. */
const grpcClient = () => allClients(gw.url)[1]!;

type Spec = { name: string; roles: string[]; team?: string; workloads?: string[]; expireTime?: Date };
async function mint(creator: string, spec: Spec) {
  const c = grpcClient();
  try {
    const { expireTime, ...rest } = spec;
    const input = expireTime ? { ...rest, expireTime: timestampFromDate(expireTime) } : rest;
    const { message } = await c.unary(A.createKey, input, auth(creator));
    assert.ok(message.key, "CreateKey returns the record");
    return { id: message.key.id, secret: message.secret };
  } finally {
    c.close();
  }
}

/** Runs a call and reports its outcome as a gRPC code (OK when it succeeded). */
async function outcome(call: Promise<unknown>): Promise<{ code: Code | "OK"; message: string }> {
  try {
    await call;
    return { code: "OK", message: "" };
  } catch (e) {
    if (!(e instanceof ConnectError)) throw e;
    return { code: e.code, message: e.rawMessage };
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The role × RPC matrix
// ---------------------------------------------------------------------------------------------

type Rpc = {
  permission: Permission;
  /** A valid request for this RPC made with `key`; `victim` is a fresh key id that may be revoked. */
  call: (c: TestClient, key: string, self: { id: string; victim: () => Promise<string> }) => Promise<unknown>;
};

/** Every RPC of both services and the permission it needs, as docs/access.md lists them. */
const RPCS: Record<string, Rpc> = {
  Generate: {
    permission: "inference.generate",
    call: (c, key) => c.unary(M.generate, { workload: "chat", messages: [user("hi")] }, auth(key)),
  },
  GenerateStream: {
    permission: "inference.generate",
    call: (c, key) =>
      c.serverStream(M.generateStream, { workload: "chat", messages: [user("hi")] }, auth(key)),
  },
  Embed: {
    permission: "inference.embed",
    call: (c, key) => c.unary(M.embed, { workload: "vectors", inputs: ["alpha"] }, auth(key)),
  },
  ListModels: { permission: "inference.list", call: (c, key) => c.unary(M.listModels, {}, auth(key)) },
  CreateKey: {
    permission: "keys.create",
    call: (c, key) =>
      c.unary(A.createKey, { name: "matrix child", roles: ["developer"], team: TEAM }, auth(key)),
  },
  ListKeys: { permission: "keys.read", call: (c, key) => c.unary(A.listKeys, {}, auth(key)) },
  GetKey: { permission: "keys.read", call: (c, key, self) => c.unary(A.getKey, { id: self.id }, auth(key)) },
  RevokeKey: {
    permission: "keys.revoke",
    call: async (c, key, self) => c.unary(A.revokeKey, { id: await self.victim() }, auth(key)),
  },
  ListRoutes: { permission: "routes.read", call: (c, key) => c.unary(A.listRoutes, {}, auth(key)) },
  GetConfig: { permission: "config.read", call: (c, key) => c.unary(A.getConfig, {}, auth(key)) },
  ReloadConfig: { permission: "config.reload", call: (c, key) => c.unary(A.reloadConfig, {}, auth(key)) },
  ListAuditEvents: { permission: "audit.read", call: (c, key) => c.unary(A.listAuditEvents, {}, auth(key)) },
  GetSpend: { permission: "usage.read", call: (c, key) => c.unary(A.getSpend, {}, auth(key)) },
};

const ROLE_NAMES = ["admin", "team-admin", "developer", "viewer", "billing"];

describe("the RPC → permission map matches the services, rbac.ts and docs/access.md", () => {
  test("every RPC of InferenceService and AdminService is in the map, and nothing else", () => {
    const rpcs = [...InferenceService.methods, ...AdminService.methods].map((m) => m.name).sort();
    assert.deepEqual(Object.keys(RPCS).sort(), rpcs);
  });

  test("every permission of rbac.ts is needed by some RPC; the roles are the documented five", () => {
    assert.deepEqual(
      [...new Set(Object.values(RPCS).map((r) => r.permission))].sort(),
      [...PERMISSIONS].sort(),
    );
    assert.deepEqual(Object.keys(ROLES).sort(), [...ROLE_NAMES].sort());
    const docs = readFileSync(new URL("../../docs/access.md", import.meta.url), "utf8");
    const documented = [...docs.matchAll(/^\| `([a-z-]+)`\s*\|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), [...ROLE_NAMES].sort(), "the role table of docs/access.md");
  });

  test("the map agrees with docs/access.md's 'Permissions per RPC' list", () => {
    const docs = readFileSync(new URL("../../docs/access.md", import.meta.url), "utf8");
    const start = docs.indexOf("Permissions per RPC:");
    assert.ok(start >= 0, "docs/access.md lists the permissions per RPC");
    const paragraph = docs.slice(start, docs.indexOf("\n\n", start));
    const entries = [...paragraph.matchAll(/`([a-z]+\.[a-z]+)`(?:\s*\(([^)]*)\))?/g)];
    assert.deepEqual(
      entries.map((e) => e[1]),
      [...PERMISSIONS],
      "the docs list every permission, in rbac.ts order",
    );
    for (const [, permission, named] of entries) {
      const mapped = Object.entries(RPCS)
        .filter(([, r]) => r.permission === permission)
        .map(([name]) => name)
        .sort();
      const rpcNames = (named ?? "").split(/,\s*/).filter((w) => /^[A-Z][A-Za-z]+$/.test(w));
      if (rpcNames.length > 0) assert.deepEqual(mapped, rpcNames.sort(), `${permission}: ${named}`);
      else assert.equal(mapped.length, 1, `${permission} (${named ?? "its one RPC"}) guards exactly one RPC`);
    }
    // The ones the docs name by prose only.
    assert.equal(RPCS.Embed?.permission, "inference.embed");
    assert.equal(RPCS.CreateKey?.permission, "keys.create");
    assert.equal(RPCS.RevokeKey?.permission, "keys.revoke");
    assert.equal(RPCS.GetSpend?.permission, "usage.read", "'spend queries'");
  });
});

describe("role × RPC matrix (gRPC through connect-node)", () => {
  const keys = new Map<string, { id: string; secret: string }>();
  /** What each cell observed: "allowed" or "denied". */
  const observed = new Map<string, "allowed" | "denied">();
  const expected = (role: string, rpc: string) =>
    ROLES[role]!.permissions.includes(RPCS[rpc]!.permission) ? "allowed" : "denied";

  before(async () => {
    for (const role of ROLE_NAMES)
      keys.set(role, await mint(ADMIN, { name: `matrix ${role}`, roles: [role], team: TEAM }));
  });

  for (const role of ROLE_NAMES) {
    for (const [rpc, spec] of Object.entries(RPCS)) {
      const want = expected(role, rpc);
      test(`${role} × ${rpc} → ${want}`, async () => {
        const key = keys.get(role)!;
        const victim = async () =>
          (await mint(ADMIN, { name: `victim of ${role}`, roles: ["billing"], team: TEAM })).id;
        const c = grpcClient();
        const got = await outcome(spec.call(c, key.secret, { id: key.id, victim }));
        c.close();
        if (want === "denied") {
          assert.equal(
            got.code,
            Code.PermissionDenied,
            `unexpected allow: ${role} may not ${spec.permission}`,
          );
          assert.match(got.message, new RegExp(`may not ${spec.permission.replace(".", "\\.")}`));
        } else {
          assert.ok(
            got.code !== Code.Unauthenticated &&
              got.code !== Code.PermissionDenied &&
              got.code !== Code.Internal,
            `unexpected deny: ${role} has ${spec.permission}, got ${String(got.code)} ${got.message}`,
          );
          if (rpc === "ReloadConfig") {
            // Allowed, but the test gateway was started from config text.
            assert.equal(got.code, Code.InvalidArgument);
            assert.match(got.message, /not started from a config file/);
          } else {
            assert.equal(got.code, "OK", `${role} × ${rpc}: ${got.message}`);
          }
        }
        observed.set(`${role} × ${rpc}`, got.code === Code.PermissionDenied ? "denied" : "allowed");
      });
    }
  }

  test("summary: the observed matrix equals the table; every denial is in the audit log", async (t) => {
    const rpcs = Object.keys(RPCS);
    const rows = ROLE_NAMES.map(
      (role) =>
        `${role.padEnd(10)} ${rpcs.map((rpc) => (observed.get(`${role} × ${rpc}`) === "allowed" ? "Y" : ".")).join(" ")}`,
    );
    t.diagnostic(`matrix (Y = allowed), columns: ${rpcs.join(", ")}\n${rows.join("\n")}`);
    const unexpectedAllows: string[] = [];
    for (const role of ROLE_NAMES) {
      for (const rpc of rpcs) {
        const cell = `${role} × ${rpc}`;
        assert.ok(observed.has(cell), `${cell} ran`);
        if (observed.get(cell) === "allowed" && expected(role, rpc) === "denied") unexpectedAllows.push(cell);
      }
    }
    assert.deepEqual(unexpectedAllows, [], "zero unexpected allows");
    assert.ok([...observed.values()].includes("denied") && [...observed.values()].includes("allowed"));

    const c = grpcClient();
    const { message } = await c.unary(A.listAuditEvents, { outcome: "denied", pageSize: 1000 }, auth(ADMIN));
    c.close();
    for (const role of ROLE_NAMES) {
      const actor = keys.get(role)!.id;
      const actions = new Set(message.events.filter((e) => e.actorKeyId === actor).map((e) => e.action));
      const deniedPermissions = new Set(
        rpcs
          .filter((rpc) => expected(role, rpc) === "denied")
          .map((rpc) => `${RPCS[rpc]!.permission}.denied`),
      );
      assert.deepEqual([...actions].sort(), [...deniedPermissions].sort(), `audited denials of ${role}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Escalation
// ---------------------------------------------------------------------------------------------

describe("no privilege escalation", () => {
  let lead: { id: string; secret: string };
  let dev: { id: string; secret: string };
  before(async () => {
    lead = await mint(ADMIN, { name: "esc lead", roles: ["team-admin"], team: TEAM, workloads: ["chat"] });
    dev = await mint(ADMIN, { name: "esc dev", roles: ["developer"], team: TEAM });
  });

  const refusedMint = async (creator: string, spec: Spec, pattern: RegExp) => {
    const c = grpcClient();
    const { expireTime, ...rest } = spec;
    const input = expireTime ? { ...rest, expireTime: timestampFromDate(expireTime) } : rest;
    const got = await outcome(c.unary(A.createKey, input, auth(creator)));
    c.close();
    assert.equal(got.code, Code.PermissionDenied, `${JSON.stringify(spec)} must be refused`);
    assert.match(got.message, pattern);
  };
  const keyNames = async () => {
    const c = grpcClient();
    const { message } = await c.unary(A.listKeys, { includeRevoked: true }, auth(ADMIN));
    c.close();
    return message.keys.map((k) => k.name);
  };

  test("a team-admin cannot mint for another team, nor admin / team-admin keys, nor beyond its scopes", async () => {
    const refused: [Spec, RegExp][] = [
      [{ name: "esc other team", roles: ["developer"], team: "t2" }, /own team \(t1\)/],
      [{ name: "esc admin", roles: ["admin"] }, /cannot grant "admin"/],
      [{ name: "esc admin", roles: ["admin"], team: TEAM }, /cannot grant "admin"/],
      [{ name: "esc peer", roles: ["team-admin"], team: TEAM }, /cannot grant "team-admin"/],
      [{ name: "esc mixed", roles: ["developer", "admin"], team: TEAM }, /cannot grant "admin"/],
      // viewer is grantable by team-admin, but carries permissions a team-admin lacks.
      [
        { name: "esc viewer", roles: ["viewer"], team: TEAM },
        /permissions you lack: config\.read, audit\.read/,
      ],
      [
        { name: "esc wide", roles: ["developer"], team: TEAM, workloads: ["*"] },
        /workloads outside your own: \*/,
      ],
      [{ name: "esc unknown", roles: ["root"], team: TEAM }, /unknown role "root"/],
    ];
    for (const [spec, pattern] of refused) await refusedMint(lead.secret, spec, pattern);
    assert.deepEqual(
      (await keyNames()).filter((n) => n.startsWith("esc ") && n !== "esc lead" && n !== "esc dev"),
      [],
      "no refused key was created",
    );
    // Control: within its team and scopes the same team-admin can mint.
    const ok = await mint(lead.secret, { name: "esc ok", roles: ["developer", "billing"], team: TEAM });
    assert.match(ok.secret, /^sy_[0-9a-f]{16}_/);
  });

  test("a team-admin cannot revoke or read keys outside its team (e.g. the bootstrap admin key)", async () => {
    const adminId = keyIdOf(ADMIN)!;
    const c = grpcClient();
    assert.equal(
      (await outcome(c.unary(A.revokeKey, { id: adminId }, auth(lead.secret)))).code,
      Code.NotFound,
    );
    assert.equal((await outcome(c.unary(A.getKey, { id: adminId }, auth(lead.secret)))).code, Code.NotFound);
    // The admin key still works.
    const still = await outcome(c.unary(A.listKeys, {}, auth(ADMIN)));
    c.close();
    assert.equal(still.code, "OK");
  });

  test("a key with an expiry cannot mint a longer-lived one", async () => {
    const soon = new Date(Date.now() + 3_600_000);
    const temp = await mint(ADMIN, {
      name: "esc temp lead",
      roles: ["team-admin"],
      team: TEAM,
      expireTime: soon,
    });
    await refusedMint(
      temp.secret,
      { name: "esc forever", roles: ["developer"], team: TEAM },
      /expire no later/,
    );
    await refusedMint(
      temp.secret,
      { name: "esc later", roles: ["developer"], team: TEAM, expireTime: new Date(soon.getTime() + 1000) },
      /expire no later/,
    );
  });

  test("a developer cannot call any AdminService RPC", async () => {
    const c = grpcClient();
    for (const method of AdminService.methods) {
      const got = await outcome(
        c.unary(
          method as DescMethod & { input: DescMessage; output: DescMessage },
          {} as MessageInitShape<DescMessage>,
          auth(dev.secret),
        ),
      );
      assert.equal(got.code, Code.PermissionDenied, `developer × ${method.name}: ${got.message}`);
    }
    // Not even a key with its own (developer) role.
    const got = await outcome(
      c.unary(A.createKey, { name: "esc dev child", roles: ["developer"] }, auth(dev.secret)),
    );
    c.close();
    assert.equal(got.code, Code.PermissionDenied);
    assert.match(got.message, /may not keys\.create/);
  });

  test("no RPC changes an existing key's roles: AdminService has no update method", async () => {
    const names = AdminService.methods.map((m) => m.name);
    assert.deepEqual(
      names.filter((n) => /update|patch|set|modify|edit|grant|assign|change|rotate/i.test(n)),
      [],
    );
    // Only CreateKey takes roles, and it cannot name an existing key: it always makes a new one.
    const takingRoles = AdminService.methods.filter((m) =>
      m.input.fields.some((f) => f.localName === "roles"),
    );
    assert.deepEqual(
      takingRoles.map((m) => m.name),
      ["CreateKey"],
    );
    assert.deepEqual(
      A.createKey.input.fields.filter((f) => /id$|^key/i.test(f.localName)).map((f) => f.localName),
      [],
      "CreateKeyRequest has no field naming an existing key",
    );
    // Minting "myself, with more roles" is refused, and the caller's own record is unchanged.
    await refusedMint(
      lead.secret,
      { name: "esc self+", roles: ["team-admin", "admin"], team: TEAM },
      /cannot grant/,
    );
    await refusedMint(
      dev.secret,
      { name: "esc dev+", roles: ["developer", "viewer"], team: TEAM },
      /keys\.create/,
    );
    const c = grpcClient();
    const mine = await c.unary(A.getKey, { id: lead.id }, auth(ADMIN));
    const devRecord = await c.unary(A.getKey, { id: dev.id }, auth(ADMIN));
    c.close();
    assert.deepEqual(mine.message.key?.roles, ["team-admin"]);
    assert.deepEqual(devRecord.message.key?.roles, ["developer"]);
  });
});

// ---------------------------------------------------------------------------------------------
// 2b. Reach: what a key can read is within what its creator can read, for every reading RPC
// ---------------------------------------------------------------------------------------------

describe("team scope: a minted key never reads beyond its creator, down any chain", () => {
  const OTHER = "t2";
  let lead: { id: string; secret: string }; // team-admin of t1, workloads [chat], minted by the admin
  let otherDev: { id: string; secret: string };
  before(async () => {
    lead = await mint(ADMIN, { name: "reach lead", roles: ["team-admin"], team: TEAM, workloads: ["chat"] });
    const devT1 = await mint(ADMIN, { name: "reach dev t1", roles: ["developer"], team: TEAM });
    otherDev = await mint(ADMIN, { name: "reach dev t2", roles: ["developer"], team: OTHER });
    // Spend of both teams on both workloads.
    const c = grpcClient();
    for (const key of [devT1.secret, otherDev.secret]) {
      await c.unary(M.generate, { workload: "chat", messages: [user("reach")] }, auth(key));
      await c.unary(M.embed, { workload: "vectors", inputs: ["reach"] }, auth(key));
      // A denial by each, so the audit log has events by both teams' keys.
      await outcome(c.unary(A.listKeys, {}, auth(key)));
    }
    c.close();
    await gw.gateway.ledger.flush();
  });

  /** What a key reads through each reading RPC, as comparable sets (undefined: may not read it). */
  async function reads(key: string) {
    const c = grpcClient();
    const readable = async <T>(call: Promise<{ message: T }>): Promise<T | undefined> => {
      try {
        return (await call).message;
      } catch (e) {
        if (e instanceof ConnectError && e.code === Code.PermissionDenied) return undefined;
        throw e;
      }
    };
    try {
      const groupBy = [SpendDimension.TEAM, SpendDimension.WORKLOAD, SpendDimension.MODEL];
      const rows = (await readable(c.unary(A.getSpend, { groupBy }, auth(key))))?.rows;
      const keyList = (await readable(c.unary(A.listKeys, { includeRevoked: true }, auth(key))))?.keys;
      const events = (await readable(c.unary(A.listAuditEvents, { pageSize: 1000 }, auth(key))))?.events;
      return {
        spend: rows && new Set(rows.map((r) => `${r.group.team}/${r.group.workload}/${r.group.model}`)),
        teams: rows && new Set(rows.map((r) => r.group.team)),
        workloads: rows && new Set(rows.map((r) => r.group.workload)),
        keys: keyList && new Set(keyList.map((k) => k.id)),
        keyTeams: keyList && new Set(keyList.map((k) => k.team)),
        auditActors: events && new Set(events.map((e) => e.actorKeyId)),
      };
    } finally {
      c.close();
    }
  }

  const subset = (inner: Set<unknown> | undefined, outer: Set<unknown> | undefined, what: string) => {
    if (inner === undefined) return; // the key cannot read this at all
    assert.ok(outer !== undefined, `${what}: the minted key reads what its creator cannot read at all`);
    const extra = [...inner].filter((x) => !outer.has(x));
    assert.deepEqual(extra, [], `${what}: the minted key reads beyond its creator`);
  };

  test("a billing key minted by a team-admin reads only its team's spend (not every team's)", async () => {
    const billing = await mint(lead.secret, { name: "reach billing", roles: ["billing"], team: TEAM });
    const mine = await reads(billing.secret);
    assert.deepEqual([...(mine.teams ?? [])], [TEAM], "GetSpend of a team-minted billing key");
    assert.deepEqual(
      [...(mine.workloads ?? [])],
      ["chat"],
      "and only within its workloads (inherited: chat)",
    );
    const creator = await reads(lead.secret);
    subset(mine.spend, creator.spend, "GetSpend");
    assert.deepEqual([...(creator.teams ?? [])], [TEAM], "the team-admin itself reads only t1");
  });

  test("admin → team-admin → billing / developer: every reading RPC of each link is within the link above", async () => {
    const billing = await mint(lead.secret, { name: "reach chain billing", roles: ["billing"], team: TEAM });
    const dev = await mint(lead.secret, { name: "reach chain dev", roles: ["developer"], team: TEAM });
    const chain = [ADMIN, lead.secret, billing.secret];
    const seen = [];
    for (const key of chain) seen.push(await reads(key));
    for (let i = 1; i < seen.length; i++) {
      for (const what of ["spend", "keys", "auditActors"] as const)
        subset(seen[i]![what], seen[i - 1]![what], `link ${i} ${what}`);
    }
    assert.ok(seen[0]!.teams?.has(OTHER), "the admin reads the other team's spend (control)");
    assert.equal(seen[1]!.keyTeams?.size, 1, "the team-admin lists keys of its own team only");
    const devReads = await reads(dev.secret);
    assert.equal(devReads.spend, undefined, "a developer reads no spend");
    assert.equal(devReads.keys, undefined, "nor keys");
  });

  test("an admin-minted viewer of one team reads that team's keys, spend and audit events only", async () => {
    const viewer = await mint(ADMIN, { name: "reach viewer t1", roles: ["viewer"], team: TEAM });
    const got = await reads(viewer.secret);
    assert.deepEqual([...(got.teams ?? [])], [TEAM]);
    assert.deepEqual([...(got.keyTeams ?? [])], [TEAM]);
    assert.ok(!got.keys?.has(otherDev.id), "no key of t2");
    assert.ok(!got.auditActors?.has(otherDev.id), "no audit event by a t2 key");
    assert.ok(got.auditActors && got.auditActors.size > 0, "the t1 keys' events are there");
    const c = grpcClient();
    const other = await outcome(c.unary(A.getKey, { id: otherDev.id }, auth(viewer.secret)));
    c.close();
    assert.equal(other.code, Code.NotFound, "GetKey of another team's key");
  });

  test("an admin-minted viewer without a team reads every team (an org-wide reader)", async () => {
    const viewer = await mint(ADMIN, { name: "reach viewer all", roles: ["viewer"] });
    const got = await reads(viewer.secret);
    assert.ok(got.teams?.has(TEAM) && got.teams.has(OTHER));
    assert.ok(got.keys?.has(otherDev.id) && got.auditActors?.has(otherDev.id));
  });

  test("a team-admin without a team manages nothing: it mints no key and cannot read or revoke teamless keys", async () => {
    const loose = await mint(ADMIN, { name: "reach loose lead", roles: ["team-admin"] });
    const victim = await mint(ADMIN, { name: "reach teamless victim", roles: ["billing"] });
    const c = grpcClient();
    try {
      const minted = await outcome(
        c.unary(A.createKey, { name: "reach loose child", roles: ["billing"] }, auth(loose.secret)),
      );
      assert.equal(minted.code, Code.PermissionDenied);
      assert.match(minted.message, /without a team cannot mint/);
      assert.equal(
        (await outcome(c.unary(A.getKey, { id: keyIdOf(ADMIN)! }, auth(loose.secret)))).code,
        Code.NotFound,
      );
      assert.equal(
        (await outcome(c.unary(A.revokeKey, { id: victim.id }, auth(loose.secret)))).code,
        Code.NotFound,
      );
      const { message } = await c.unary(A.listKeys, { includeRevoked: true }, auth(loose.secret));
      assert.deepEqual(message.keys, []);
      const spend = await c.unary(A.getSpend, { groupBy: [SpendDimension.TEAM] }, auth(loose.secret));
      assert.deepEqual(spend.message.rows, []);
      const still = await c.unary(A.getKey, { id: victim.id }, auth(ADMIN));
      assert.equal(still.message.key?.revokeTime, undefined, "the victim was not revoked");
    } finally {
      c.close();
    }
  });

  test("CreateKey refuses an expiry that is not in the future (INVALID_ARGUMENT), and mints nothing", async () => {
    const c = grpcClient();
    try {
      for (const when of [new Date(Date.now() - 60_000), new Date(0)]) {
        const got = await outcome(
          c.unary(
            A.createKey,
            { name: "reach expired", roles: ["developer"], team: TEAM, expireTime: timestampFromDate(when) },
            auth(ADMIN),
          ),
        );
        assert.equal(got.code, Code.InvalidArgument, got.message);
        assert.match(got.message, /not in the future/);
      }
      const { message } = await c.unary(A.listKeys, { includeRevoked: true }, auth(ADMIN));
      assert.equal(message.keys.filter((k) => k.name === "reach expired").length, 0);
    } finally {
      c.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Malformed keys
// ---------------------------------------------------------------------------------------------

describe("malformed API keys are UNAUTHENTICATED, never INTERNAL, on every client stack", () => {
  const real = mintKey().secret; // well-formed, unknown to the gateway
  const idPart = real.slice(3, 19);
  const cases: [string, string][] = [
    ["an empty authorization header", ""],
    ["the scheme alone", "Bearer"],
    ["`Bearer ` with a trailing space", "Bearer "],
    ["another scheme", `Basic ${Buffer.from(`x:${ADMIN}`).toString("base64")}`],
    ["two tokens", `Bearer ${ADMIN} ${ADMIN}`],
    ["an 8 KiB random key", `Bearer ${randomBytes(6144).toString("base64url")}`],
    ["SQL metacharacters", `Bearer sy_0123456789abcdef_' OR 1=1 --${"x".repeat(27)}`],
    ["SQL metacharacters without spaces", `Bearer sy_0123456789abcdef_'OR'1'='1';DROP--${"x".repeat(20)}`],
    ["SQL in the id part", `Bearer sy_0123456789'--;_${real.slice(20)}`],
    ["invalid base64url chars in a well-formed key", `Bearer sy_${idPart}_${"+/=".repeat(14)}+`],
    ["an admin key with one char made invalid", `Bearer ${ADMIN.slice(0, -1)}=`],
    ["an upper-case hex id", `Bearer sy_${idPart.toUpperCase().replace(/[0-9]/g, "A")}_${real.slice(20)}`],
    ["a well-formed unknown key", `Bearer ${real}`],
    // Latin-1 bytes 0xFF 0xFE: sent as raw octets, i.e. invalid UTF-8 in the header value.
    ["invalid UTF-8 bytes", `Bearer sy_${idPart}_\u00ff\u00fe${real.slice(22)}`],
  ];

  for (const [i, name] of [
    "connect-json-http1",
    "grpc-connect-node",
    "grpc-js",
    "grpc-web-http1",
  ].entries()) {
    test(`${name}: every malformed key is UNAUTHENTICATED`, async () => {
      const c = allClients(gw.url)[i]!;
      assert.equal(c.name, name);
      try {
        for (const [label, value] of cases) {
          // @grpc/grpc-js refuses to send metadata values outside printable ASCII (it throws
          // "Metadata string value ... contains illegal characters" before any byte is sent), so
          // the invalid-UTF-8 case runs only on the connect-node stacks.
          if (name === "grpc-js" && /[^\x20-\x7e]/.test(value)) continue;
          const headers = { authorization: value };
          for (const call of [
            () => c.unary(M.listModels, {}, { headers }),
            () => c.unary(A.listKeys, {}, { headers }),
          ]) {
            const got = await outcome(call());
            assert.equal(got.code, Code.Unauthenticated, `${label}: ${String(got.code)} ${got.message}`);
            assert.doesNotMatch(got.message, /internal/i);
          }
        }
        // Non-Latin-1 characters (e.g. "€") cannot be sent at all: every client refuses them locally
        // (connect-node: "Cannot convert argument to a ByteString"; grpc-js: "illegal characters").
        await assert.rejects(
          c.unary(M.listModels, {}, { headers: { authorization: `Bearer sy_${idPart}_\u20ac` } }),
          (e: Error) => !(e instanceof ConnectError) || e.code !== Code.Internal,
        );
        const ok = await outcome(c.unary(M.listModels, {}, auth(ADMIN)));
        assert.equal(ok.code, "OK", "the admin key still works on this stack");
      } finally {
        c.close();
      }
    });
  }

  test("a 32 KiB key (over HTTP/1.1's header limit, under HTTP/2's) never gets INTERNAL", async () => {
    const key = `Bearer sy_${idPart}_${"A".repeat(32 * 1024)}`;
    for (const c of allClients(gw.url)) {
      const got = await outcome(c.unary(M.listModels, {}, { headers: { authorization: key } }));
      c.close();
      assert.notEqual(got.code, "OK", c.name);
      assert.notEqual(got.code, Code.Internal, `${c.name}: ${got.message}`);
      // HTTP/2 stacks reach the gateway, which refuses the key; HTTP/1.1 stacks get 431 from Node.
      if (c.http2) assert.equal(got.code, Code.Unauthenticated, c.name);
    }
  });

  test("a 1 MiB key fails without INTERNAL from the gateway, which keeps serving", async () => {
    const huge = `Bearer ${"a".repeat(1 << 20)}`;
    const errorsBefore = gw.logs.filter((l) => (l.level ?? 0) >= 50).length;
    for (const [i, c] of allClients(gw.url).entries()) {
      const got = await outcome(c.unary(M.listModels, {}, { headers: { authorization: huge } }));
      c.close();
      assert.notEqual(got.code, "OK", c.name);
      if (!c.http2) {
        // HTTP/1.1: Node answers 431 before the gateway sees the request (Connect maps it to UNKNOWN).
        assert.notEqual(got.code, Code.Internal, `${c.name}: ${got.message}`);
      } else if (got.code === Code.Internal) {
        // HTTP/2: a single 1 MiB header field exceeds nghttp2's HPACK limit, so Node's HTTP/2 layer
        // ends the connection (GOAWAY COMPRESSION_ERROR) before any request reaches the gateway; the
        // client libraries turn that reset into INTERNAL themselves (grpc-js per the gRPC HTTP/2
        // mapping, connect-node for REFUSED_STREAM). Accept exactly that — a transport reset — and
        // never an INTERNAL status answered by the gateway (which carries its request id).
        assert.match(
          got.message,
          /RST_STREAM|REFUSED_STREAM|NGHTTP2_|ECANCELED/,
          `${c.name}: ${got.message}`,
        );
        assert.doesNotMatch(got.message, /request id/, c.name);
      }
      // The gateway still serves the next call (on a new connection).
      const next = allClients(gw.url)[i]!;
      const ok = await outcome(next.unary(M.listModels, {}, auth(ADMIN)));
      next.close();
      assert.equal(ok.code, "OK", `after ${c.name}'s 1 MiB key: ${ok.message}`);
    }
    assert.equal(gw.logs.filter((l) => (l.level ?? 0) >= 50).length, errorsBefore, "no error was logged");
  });
});
