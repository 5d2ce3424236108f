import {
  type GetSpendRequest,
  SpendDimension,
  SpendDimensionSchema,
} from "../../gen/switchyard/v1/admin_service_pb.ts";
import type { SpendDimension as Dimension, SpendQuery } from "../store/store.ts";
import { requireKnown, timestampToDate } from "./validate.ts";

/** Every proto dimension but UNSPECIFIED, so a dimension added to the proto and forgotten here is a type error. */
const DIMENSIONS: Record<Exclude<SpendDimension, typeof SpendDimension.UNSPECIFIED>, Dimension> = {
  [SpendDimension.KEY]: "key",
  [SpendDimension.TEAM]: "team",
  [SpendDimension.WORKLOAD]: "workload",
  [SpendDimension.BACKEND]: "backend",
  [SpendDimension.MODEL]: "model",
  [SpendDimension.DAY]: "day",
  [SpendDimension.HOUR]: "hour",
  [SpendDimension.END_USER]: "end_user",
  [SpendDimension.SERVICE_TIER]: "service_tier",
};

const DAY_MS = 86_400_000;

/**
 * A GetSpend request as a ledger query, within the reader's reach: `team` forces a team filter (a
 * team-scoped key sees its own), `reach` limits the workloads and models (a scoped key sees its own).
 */
export function spendQueryOf(
  req: GetSpendRequest,
  team: string | undefined,
  reach: { workloads?: string[]; models?: string[] } = {},
  now = new Date(),
): SpendQuery {
  const filter: NonNullable<SpendQuery["filter"]> = {};
  if (reach.workloads) filter.workloadIn = reach.workloads;
  if (reach.models) filter.modelIn = reach.models;
  if (req.keyId) filter.keyId = req.keyId;
  if (req.team) filter.team = req.team;
  if (team !== undefined) filter.team = team;
  if (req.workload) filter.workload = req.workload;
  if (req.backend) filter.backend = req.backend;
  if (req.model) filter.model = req.model;
  req.groupBy.forEach((d, i) => {
    requireKnown(SpendDimensionSchema, d, `group_by[${i}]`);
  });
  return {
    // requireKnown refused every value outside the enum; UNSPECIFIED (0) groups by nothing.
    groupBy: [
      ...new Set(
        req.groupBy
          .map((d) => DIMENSIONS[d as keyof typeof DIMENSIONS])
          .filter((d): d is Dimension => d !== undefined),
      ),
    ],
    since: req.startTime
      ? timestampToDate(req.startTime, "start_time")
      : new Date(now.getTime() - 30 * DAY_MS),
    until: req.endTime ? timestampToDate(req.endTime, "end_time") : now,
    filter,
  };
}
