import type { CompiledConfig } from "../../config/compile.ts";
import { findModel, listModels, type ModelVisibility } from "../openai/models.ts";

/** Anthropic's model object. `display_name` is the id: the gateway has no other name for a model. */
type AnthropicModel = { type: "model"; id: string; display_name: string; created_at: string };

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 1000;

const entry = (id: string, createdAt: string): AnthropicModel => ({
  type: "model",
  id,
  display_name: id,
  created_at: createdAt,
});

/**
 * GET /v1/models in Anthropic's shape (asked with `anthropic-version`, as the Anthropic SDKs do):
 * the same names as the OpenAI facade lists, paged by `limit`, `after_id` and `before_id`.
 */
export function anthropicModelList(
  config: CompiledConfig,
  visible: ModelVisibility,
  createdAt: string,
  query: URLSearchParams,
): Record<string, unknown> {
  const ids = listModels(config, visible, 0).map((m) => m.id);
  const limit = clampLimit(query.get("limit"));
  const after = query.get("after_id");
  const before = query.get("before_id");
  let start = 0;
  let end = ids.length;
  if (after !== null) start = ids.indexOf(after) + 1;
  if (before !== null) end = Math.max(0, ids.indexOf(before));
  const page =
    before !== null && after === null
      ? ids.slice(Math.max(start, end - limit), end)
      : ids.slice(start, Math.min(end, start + limit));
  const hasMore = before !== null && after === null ? end - limit > start : start + limit < end;
  return {
    data: page.map((id) => entry(id, createdAt)),
    has_more: hasMore,
    first_id: page[0] ?? null,
    last_id: page.at(-1) ?? null,
  };
}

/** GET /v1/models/{id}: a name the caller may use (404 not_found_error otherwise). */
export function anthropicModel(
  config: CompiledConfig,
  visible: ModelVisibility,
  id: string,
  createdAt: string,
): AnthropicModel {
  return entry(findModel(config, visible, id, 0).id, createdAt);
}

function clampLimit(raw: string | null): number {
  const n = raw === null ? DEFAULT_LIMIT : Number.parseInt(raw, 10);
  if (!Number.isFinite(n) || n < 1) return DEFAULT_LIMIT;
  return Math.min(n, MAX_LIMIT);
}
