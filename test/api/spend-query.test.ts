import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  GetSpendRequestSchema,
  SpendDimension,
  SpendDimensionSchema,
} from "../../gen/switchyard/v1/admin_service_pb.ts";
import { spendQueryOf } from "../../src/api/spend-query.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { SPEND_DIMENSIONS } from "../../src/store/spend.ts";

const NOW = new Date("2026-12-04T12:00:00Z");
const query = (init: Parameters<typeof create<typeof GetSpendRequestSchema>>[1]) =>
  spendQueryOf(create(GetSpendRequestSchema, init), undefined, {}, NOW);

test("GetSpend: every proto dimension groups by its own ledger dimension (none is dropped)", () => {
  const values = SpendDimensionSchema.values.filter((v) => v.number !== SpendDimension.UNSPECIFIED);
  const mapped = values.map((v) => query({ groupBy: [v.number as SpendDimension] }).groupBy);
  assert.ok(
    mapped.every((g) => g.length === 1),
    "each known dimension groups",
  );
  const dimensions = mapped.map((g) => g[0]);
  assert.equal(new Set(dimensions).size, values.length, "no two proto values share a dimension");
  assert.deepEqual(
    [...dimensions].sort(),
    [...SPEND_DIMENSIONS].sort(),
    "and every ledger dimension is reachable",
  );
  assert.deepEqual(
    query({
      groupBy: [
        SpendDimension.HOUR,
        SpendDimension.END_USER,
        SpendDimension.SERVICE_TIER,
        SpendDimension.HOUR,
      ],
    }).groupBy,
    ["hour", "end_user", "service_tier"],
    "in the caller's order, repeats dropped",
  );
  assert.deepEqual(
    query({ groupBy: [SpendDimension.UNSPECIFIED] }).groupBy,
    [],
    "UNSPECIFIED groups by nothing",
  );
});

test("GetSpend: an unknown dimension is refused, naming the field", () => {
  assert.throws(
    () => query({ groupBy: [SpendDimension.DAY, 42 as SpendDimension] }),
    (e: unknown) => e instanceof GatewayError && /group_by\[1\]/.test(e.message),
  );
});

test("GetSpend: the range defaults to the last 30 days; a team-scoped reader is held to its team and reach", () => {
  const q = query({});
  assert.deepEqual(
    [q.since.toISOString(), q.until.toISOString()],
    ["2026-11-04T12:00:00.000Z", NOW.toISOString()],
  );
  const since = new Date("2026-12-01T00:00:00Z");
  const scoped = spendQueryOf(
    create(GetSpendRequestSchema, { team: "other", model: "m", startTime: timestampFromDate(since) }),
    "mine",
    { workloads: ["chat"] },
    NOW,
  );
  assert.deepEqual(scoped.filter, { team: "mine", model: "m", workloadIn: ["chat"] });
  assert.equal(scoped.since.getTime(), since.getTime());
});
