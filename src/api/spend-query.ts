import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type GetSpendRequest, SpendDimension } from "../../gen/switchyard/v1/admin_service_pb.ts";
import type { SpendDimension as Dimension, SpendQuery } from "../store/store.ts";

const DIMENSIONS: Record<number, Dimension> = {
  [SpendDimension.KEY]: "key",
  [SpendDimension.TEAM]: "team",
  [SpendDimension.WORKLOAD]: "workload",
  [SpendDimension.BACKEND]: "backend",
  [SpendDimension.MODEL]: "model",
  [SpendDimension.DAY]: "day",
};

const DAY_MS = 86_400_000;

/** A GetSpend request as a ledger query; `team` forces a team filter (team-admins see their own). */
export function spendQueryOf(req: GetSpendRequest, team: string | undefined, now = new Date()): SpendQuery {
  const filter: NonNullable<SpendQuery["filter"]> = {};
  if (req.keyId) filter.keyId = req.keyId;
  if (req.team) filter.team = req.team;
  if (team !== undefined) filter.team = team;
  if (req.workload) filter.workload = req.workload;
  if (req.backend) filter.backend = req.backend;
  if (req.model) filter.model = req.model;
  return {
    groupBy: [
      ...new Set(req.groupBy.map((d) => DIMENSIONS[d]).filter((d): d is Dimension => d !== undefined)),
    ],
    since: req.startTime ? timestampDate(req.startTime) : new Date(now.getTime() - 30 * DAY_MS),
    until: req.endTime ? timestampDate(req.endTime) : now,
    filter,
  };
}
