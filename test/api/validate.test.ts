import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { SpendDimensionSchema } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { checkKeyFields, requireKnown, timestampToDate } from "../../src/api/validate.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";

const ts = (seconds: bigint, nanos = 0) => create(TimestampSchema, { seconds, nanos });
const refused = (pattern: RegExp) => (e: unknown) =>
  e instanceof GatewayError && e.reason === "invalid_argument" && pattern.test(e.message);

test("timestampToDate takes exactly google.protobuf.Timestamp's range, years 0001 to 9999", () => {
  assert.equal(timestampToDate(ts(-62_135_596_800n), "t").toISOString(), "0001-01-01T00:00:00.000Z");
  assert.equal(
    timestampToDate(ts(253_402_300_799n, 999_000_000), "t").toISOString(),
    "9999-12-31T23:59:59.999Z",
  );
  assert.throws(() => timestampToDate(ts(-62_135_596_801n), "start_time"), refused(/^start_time: seconds/));
  assert.throws(() => timestampToDate(ts(253_402_300_800n), "end_time"), refused(/^end_time: seconds/));
  assert.throws(() => timestampToDate(ts(0n, 1_000_000_000), "t"), refused(/nanos 1000000000/));
  assert.throws(() => timestampToDate(ts(0n, -1), "t"), refused(/nanos -1/));
});

test("requireKnown refuses a number the enum does not name, and names the valid ones", () => {
  requireKnown(SpendDimensionSchema, 0, "group_by[0]");
  requireKnown(SpendDimensionSchema, 9, "group_by[0]");
  assert.throws(
    () => requireKnown(SpendDimensionSchema, 10, "group_by[2]"),
    refused(
      /^group_by\[2\]: 10 is not a SpendDimension value \(one of SPEND_DIMENSION_UNSPECIFIED, .*SPEND_DIMENSION_SERVICE_TIER\)/,
    ),
  );
});

test("checkKeyFields bounds a new key's name, team and scope lists", () => {
  const ok = { name: "ci", team: "ml", workloads: ["chat"], models: ["*"] };
  checkKeyFields(ok);
  checkKeyFields({ ...ok, name: "n".repeat(128), workloads: Array.from({ length: 256 }, (_, i) => `w${i}`) });
  assert.throws(() => checkKeyFields({ ...ok, name: "n".repeat(129) }), refused(/^name is 129 characters/));
  assert.throws(() => checkKeyFields({ ...ok, team: "t".repeat(256 * 1024) }), refused(/^team is 262144/));
  assert.throws(
    () => checkKeyFields({ ...ok, models: Array.from({ length: 257 }, () => "m") }),
    refused(/^models lists 257 names/),
  );
  assert.throws(
    () => checkKeyFields({ ...ok, workloads: ["chat", "w".repeat(129)] }),
    refused(/^workloads\[1\] is longer/),
  );
});
