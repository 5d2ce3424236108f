import { loadConfigFile } from "../config/load.ts";
import { SPEND_SUMS } from "../store/ledger-row.ts";
import { openStore } from "../store/open-store.ts";
import { SPEND_DIMENSIONS as DIMENSIONS } from "../store/spend.ts";
import type { SpendDimension, SpendRow, StoreConfig } from "../store/store.ts";
import { parseCommand, usageError } from "./parse.ts";

export const SPEND_HELP = `switchyard spend — usage and cost from the ledger, as CSV or JSON

  switchyard spend --config FILE [--group-by team,day] [--since ISO] [--until ISO]
                   [--key ID] [--team T] [--workload W] [--backend B] [--model M] [--format csv|json]

  --group-by   any of ${DIMENSIONS.join(", ")}
               (comma-separated; day = UTC date, hour = UTC hour, end_user = the caller's end user id)
  --since      start (inclusive), default 30 days ago;  --until  end (exclusive), default now
  Tokens are summed per class (cache reads and writes, reasoning, audio and image are parts of
  input or output). Cost is in micro-USD (1e-6 USD) and also in USD.
`;

/** `switchyard spend …`: exports spend rows to stdout. Returns the exit code. */
export async function spendCommand(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const parsed = parseCommand(
    "switchyard spend",
    SPEND_HELP,
    {
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        "group-by": { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        key: { type: "string" },
        team: { type: "string" },
        workload: { type: "string" },
        backend: { type: "string" },
        model: { type: "string" },
        format: { type: "string", default: "csv" },
        help: { type: "boolean", short: "h" },
      },
    },
    { out, err },
  );
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  if (!values.config)
    return usageError("switchyard spend", "missing --config FILE", SPEND_HELP, { out, err });
  const groupBy = (values["group-by"] ?? "").split(",").filter(Boolean) as SpendDimension[];
  const unknown = groupBy.filter((d) => !DIMENSIONS.includes(d));
  if (unknown.length > 0) {
    err.write(`--group-by: unknown ${unknown.join(", ")} (use ${DIMENSIONS.join(", ")})\n`);
    return 2;
  }
  if (values.format !== "csv" && values.format !== "json") {
    err.write("--format: csv or json\n");
    return 2;
  }
  const until = values.until ? new Date(values.until) : new Date();
  const since = values.since ? new Date(values.since) : new Date(until.getTime() - 30 * 86_400_000);
  if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime())) {
    err.write("--since / --until: not a date (use ISO 8601, e.g. 2026-11-01)\n");
    return 2;
  }
  const filter = {
    ...(values.key ? { keyId: values.key } : {}),
    ...(values.team ? { team: values.team } : {}),
    ...(values.workload ? { workload: values.workload } : {}),
    ...(values.backend ? { backend: values.backend } : {}),
    ...(values.model ? { model: values.model } : {}),
  };
  const store = await openStore(loadConfigFile(values.config).config.store as StoreConfig);
  try {
    const rows = await store.ledger.spend({ groupBy, since, until, filter });
    out.write(
      values.format === "json" ? `${JSON.stringify(rows.map(jsonRow), null, 2)}\n` : csv(groupBy, rows),
    );
    return 0;
  } finally {
    await store.close();
  }
}

function jsonRow(r: SpendRow) {
  return { ...r, costUsd: r.costMicroUsd / 1e6 };
}

function csv(groupBy: SpendDimension[], rows: SpendRow[]): string {
  const cell = (v: string | number | null) => {
    const s = v === null ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const sums = SPEND_SUMS.map(([field]) => field);
  const header = [
    ...groupBy,
    "requests",
    "cached_requests",
    ...SPEND_SUMS.map(([field]) => field.replace(/[A-Z0-9]+/g, (m) => `_${m.toLowerCase()}`)),
    "cost_micro_usd",
    "cost_usd",
  ];
  const lines = rows.map((r) =>
    [
      ...groupBy.map((d) => r.group[d] ?? null),
      r.requests,
      r.cachedRequests,
      ...sums.map((field) => r[field]),
      r.costMicroUsd,
      (r.costMicroUsd / 1e6).toFixed(6),
    ]
      .map(cell)
      .join(","),
  );
  return `${[header.join(","), ...lines].join("\n")}\n`;
}
