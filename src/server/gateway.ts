import { file_google_protobuf_struct } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { metrics } from "@opentelemetry/api";
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { file_grpc_health_v1_health, Health } from "../../gen/grpc/health/v1/health_pb.ts";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection as ReflectionV1,
} from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import {
  file_grpc_reflection_v1alpha_reflection,
  ServerReflection as ReflectionV1alpha,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { AdminService, file_switchyard_v1_admin_service } from "../../gen/switchyard/v1/admin_service_pb.ts";
import {
  file_switchyard_v1_inference_service,
  InferenceService,
} from "../../gen/switchyard/v1/inference_service_pb.ts";
import { adminService } from "../api/admin-service.ts";
import { inferenceService } from "../api/inference-service.ts";
import { createCacheStore } from "../cache/create-cache-store.ts";
import type { CompiledConfig } from "../config/compile.ts";
import { ConfigHolder } from "../config/holder.ts";
import type { LoadedConfig } from "../config/load.ts";
import { messagesFacade } from "../facade/anthropic/messages-facade.ts";
import { pipelineAccess } from "../facade/openai/access.ts";
import { openAIFacade } from "../facade/openai/facade.ts";
import { responsesFacade } from "../facade/responses/responses-facade.ts";
import { ExternalGuards } from "../guardrails/external-guards.ts";
import { createLimitStores, type LimitStoresConfig } from "../limits/create-limit-stores.ts";
import { LedgerWriter } from "../metering/ledger-writer.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { AccessControl } from "../policy/access-control.ts";
import { Auditor } from "../policy/auditor.ts";
import { Authenticator } from "../policy/authenticator.ts";
import { bootstrapAdminKey } from "../policy/bootstrap.ts";
import { BudgetPolicy } from "../policy/budget.ts";
import { PolicyChains } from "../policy/chain/chains.ts";
import { RateLimitPolicy } from "../policy/rate-limit.ts";
import { HealthChecker } from "../routing/health-checker.ts";
import { verifyBackends } from "../routing/verify-backends.ts";
import { openStore } from "../store/open-store.ts";
import type { Store, StoreConfig } from "../store/store.ts";
import type { Logger } from "../telemetry/logger.ts";
import { GatewayMetrics } from "../telemetry/metrics.ts";
import { RequestTelemetry } from "../telemetry/request-telemetry.ts";
import { guardDecoding, JSON_OPTIONS } from "./decode-gate.ts";
import { createFastPath } from "./fast-path.ts";
import { HealthStatus, healthService } from "./health.ts";
import { dropBodyWhenAbandoned } from "./http/abandoned-body.ts";
import { capTimeoutHeader } from "./http/caller-timeout.ts";
import { Cors } from "./http/cors.ts";
import { resetIfStalled } from "./http/stalled-response.ts";
import { type Listener, listen } from "./listen.ts";
import { OverloadGuard } from "./overload-guard.ts";
import { DescriptorIndex, reflectionServiceV1, reflectionServiceV1alpha } from "./reflection.ts";
import { refusalInterceptor } from "./refusal-interceptor.ts";
import { drain } from "./shutdown.ts";

export type Gateway = {
  port: number;
  host: string;
  config: ConfigHolder;
  health: HealthStatus;
  /** Keys, audit log and usage ledger. */
  store: Store;
  /** The usage ledger's writer (flush() to see records in the store at once). */
  ledger: LedgerWriter;
  /** Graceful stop: NOT_SERVING, stop accepting, drain within the grace period, then force. */
  shutdown(graceMs?: number): Promise<{ forced: boolean }>;
};

// Every service served is listed (buf curl, grpcurl and Postman discover RPCs this way); the
// admin schema is public like the rest, each admin RPC still needs an authorised key.
const SERVICES = [
  InferenceService.typeName,
  AdminService.typeName,
  Health.typeName,
  ReflectionV1.typeName,
  ReflectionV1alpha.typeName,
];

/**
 * Builds and starts the gateway on one port: InferenceService, AdminService, health and
 * reflection over gRPC, gRPC-Web and Connect.
 */
export async function startGateway(options: {
  loaded: LoadedConfig;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  port?: number;
  /** Serves the metrics path; omit to serve no metrics (the global MeterProvider still records). */
  prometheus?: PrometheusExporter;
  /** The config file, so the admin service can reload it. */
  configFile?: string;
}): Promise<Gateway> {
  const { logger } = options;
  const settings = options.loaded.config;
  const store = await openStore(storeConfigOf(settings.store));
  const config = new ConfigHolder(options.loaded, options.env, logger);
  const server = settings.server;
  const authenticator = settings.auth.enabled
    ? new Authenticator(store.keys, settings.auth.cacheTtlMs)
    : undefined;
  const access = new AccessControl(authenticator, new Auditor(store.audit, logger));
  if (authenticator) {
    await bootstrapAdminKey(
      store.keys,
      { envKey: options.env.SWITCHYARD_BOOTSTRAP_KEY, keyFile: settings.auth.bootstrapKeyFile },
      logger,
    );
  } else {
    logger.warn(
      "AUTHENTICATION IS DISABLED (auth.enabled: false): every caller is treated as an admin. Never expose this gateway.",
    );
  }
  const limits = createLimitStores(limitStoreConfigOf(settings.limits.store), {
    onError: (error) => logger.error({ err: error }, "limit store error (absorbed by its failure mode)"),
  });
  if (!(await limits.ready(2000)))
    logger.error("the limit store is not reachable yet; its failure mode applies");
  const ledger = new LedgerWriter({
    store: store.ledger,
    journalPath: settings.metering.journalPath,
    logger,
  });
  const replayed = await ledger.recover();
  if (replayed > 0)
    logger.warn({ replayed }, `ledger: replayed ${replayed} journaled usage records after a crash`);
  const rateLimits = new RateLimitPolicy(limits.rateLimits, () => config.current.loaded.config.limits.rules);
  const budgets = new BudgetPolicy(limits.budgets, () => config.current.loaded.config.budgets);
  let active = 0;
  const overload = new OverloadGuard(
    () => config.current.loaded.config.server.limits,
    () => active,
    {
      auto: true,
      onChange: (shedding, lagMs, share) =>
        shedding
          ? logger.warn(
              { lagMs: Math.round(lagMs), share },
              "overloaded: refusing a share of new inference calls (event-loop lag over server.limits.maxEventLoopLagMs)",
            )
          : logger.info(
              { lagMs: Math.round(lagMs) },
              "no longer overloaded: all new inference calls admitted",
            ),
    },
  );
  const cache = createCacheStore(settings.policies.cacheStore);
  const externalGuards = new ExternalGuards();
  const pipeline = new Pipeline({
    config: () => config.current,
    overload,
    access,
    chains: new PolicyChains({
      rateLimits,
      budgets,
      ledger,
      logger,
      auditor: access.auditor,
      cacheStore: cache.store,
      cacheMaxEntryBytes: cache.maxEntryBytes,
      externalGuard: externalGuards.get,
      // Labels are config values only: guardrail names, route names, fixed actions.
      onGuardrail: (a) =>
        gatewayMetrics.guardrailActions.add(1, {
          guardrail: a.rule.split(":")[0] ?? "",
          action: a.action,
          stage: a.stage,
        }),
      onCache: (route, result) => gatewayMetrics.cacheLookups.add(1, { route, result }),
    }),
  });
  const healthChecks = new HealthChecker(logger);
  config.onSwap((compiled) => healthChecks.watch(compiled));
  await verifyBackends(config.current, logger);
  let generation = config.current.generation;
  config.onSwap((compiled) => {
    if (compiled.generation === generation) return;
    generation = compiled.generation;
    void verifyBackends(compiled, logger);
  });
  const health = new HealthStatus([InferenceService.typeName, AdminService.typeName]);
  const breakerValue = { closed: 0, half_open: 1, open: 2 } as const;
  const gatewayMetrics = new GatewayMetrics(
    metrics.getMeter("switchyard"),
    () =>
      [...config.current.backends.values()].map((b) => ({
        backend: b.name,
        state: breakerValue[b.state.breaker.state],
      })),
    () => ({ lagMs: overload.lagMs, shedShare: overload.shedShare }),
  );
  // A workload label is a configured route's name, else "other" (so callers cannot mint series).
  const telemetry = new RequestTelemetry(gatewayMetrics, logger, (w) => config.current.routes.has(w));
  const openai = openAIFacade({
    pipeline,
    config: () => config.current,
    logger,
    telemetry,
    maxRequestBytes: config.current.loaded.config.server.limits.maxRequestBytes,
    ...pipelineAccess(pipeline), // authenticate first; /v1/models shows what the key allows
  });
  const anthropic = messagesFacade({
    pipeline,
    config: () => config.current,
    logger,
    telemetry,
    maxRequestBytes: config.current.loaded.config.server.limits.maxRequestBytes,
    ...pipelineAccess(pipeline),
  });
  const openaiResponses = responsesFacade({
    pipeline,
    config: () => config.current,
    logger,
    telemetry,
    maxRequestBytes: config.current.loaded.config.server.limits.maxRequestBytes,
    ...pipelineAccess(pipeline),
  });
  const descriptors = new DescriptorIndex(
    [
      file_switchyard_v1_inference_service,
      file_switchyard_v1_admin_service,
      file_google_protobuf_struct,
      file_grpc_health_v1_health,
      file_grpc_reflection_v1_reflection,
      file_grpc_reflection_v1alpha_reflection,
    ],
    SERVICES,
  );

  // Who waits for "no request in flight" (only a draining shutdown): a plain list, no Event per request.
  const idleWaiters: (() => void)[] = [];
  const inference = inferenceService({ pipeline, config: () => config.current, logger, telemetry });
  const forceSignal = new AbortController();
  const connectLimits = {
    readMaxBytes: server.limits.maxRequestBytes,
    writeMaxBytes: server.limits.maxResponseBytes,
    maxTimeoutMs: server.limits.maxTimeoutMs,
    shutdownSignal: forceSignal.signal,
    jsonOptions: JSON_OPTIONS,
  };
  // Bad input is the caller's: refused INVALID_ARGUMENT, one bounded line (path and a fixed reason).
  const refused = (path: string, reason: string) =>
    logger.info({ path, reason }, "request refused: bad input");
  const acceptCompression = [compressionGzip, compressionBrotli]; // connect-node's default, named for the gate
  const routes = (router: ConnectRouter) => {
    router.service(InferenceService, inference);
    router.service(
      AdminService,
      adminService({
        access,
        authenticator,
        keys: store.keys,
        audit: store.audit,
        ledger: store.ledger,
        config,
        configFile: options.configFile,
      }),
      { interceptors: [refusalInterceptor(refused)] },
    );
    router.service(Health, healthService(health));
    router.service(ReflectionV1, reflectionServiceV1(descriptors));
    router.service(ReflectionV1alpha, reflectionServiceV1alpha(descriptors));
    guardDecoding(router, { ...connectLimits, acceptCompression, onRefused: refused });
  };
  const handler = connectNodeAdapter({ routes, acceptCompression, ...connectLimits });
  // The hot inference calls skip connect-node's universal handler; everything else goes through it.
  const fastPath = createFastPath({
    ...connectLimits,
    onDecodeRefused: refused,
    onEndedUnread: (operation, reason, path) => telemetry.endedUnread(operation, reason, path),
    // Shedding at the front door, before the body is read: the cheapest refusal.
    admit: (operation) => {
      try {
        overload.check();
      } catch (error) {
        telemetry.refusedUnread(operation, "overloaded");
        throw error;
      }
    },
    methods: [
      { method: InferenceService.method.generate, impl: inference.generate as never, operation: "generate" },
      {
        method: InferenceService.method.generateStream,
        impl: inference.generateStream as never,
        operation: "generate_stream",
      },
      { method: InferenceService.method.embed, impl: inference.embed as never, operation: "embed" },
    ],
  });

  // Read at start-up, like the listen settings: a reload does not change who may call from a browser.
  const cors = server.cors && server.cors.allowedOrigins.length > 0 ? new Cors(server.cors) : undefined;
  const listener: Listener = await listen(
    {
      host: server.host,
      port: options.port ?? server.port,
      tls: server.tls,
      maxConcurrentStreams: server.limits.maxConcurrentStreams,
      timeouts: {
        ...server.limits,
        onClose: (reason) => gatewayMetrics.connectionsClosed.add(1, { reason }),
      },
      maxConnections: server.limits.maxConnections,
    },
    (req, res) => {
      const metricsPath = config.current.loaded.config.telemetry.metrics.path;
      if (cors?.handle(req.method, req.headers, res)) return; // a preflight, answered
      if (options.prometheus && req.method === "GET" && req.url === metricsPath) {
        options.prometheus.getMetricsRequestHandler(req as never, res as never);
        return;
      }
      active++;
      res.once("close", () => {
        active--;
        if (active === 0 && idleWaiters.length > 0) for (const wake of idleWaiters.splice(0)) wake();
      });
      if (req.url?.startsWith("/v1/")) {
        if (anthropic(req, res)) return; // the Anthropic Messages front door (/v1/messages…, /v1/models for its SDKs)
        if (openaiResponses(req, res)) return; // the OpenAI Responses front door (/v1/responses…)
        openai(req, res); // the OpenAI-compatible REST facade
        return;
      }
      if (fastPath(req, res)) return;
      // connect-node would refuse a timeout over the cap (docs: it is capped) and keeps serving a
      // caller that stopped reading past its deadline: cap the header, reset such a response.
      const timeoutMs = capTimeoutHeader(req.headers, server.limits.maxTimeoutMs);
      if (timeoutMs !== undefined) resetIfStalled(res, timeoutMs);
      if (!("stream" in req)) dropBodyWhenAbandoned(req, server.limits.maxRequestBytes);
      handler(req, res);
    },
  );

  let stopping: Promise<{ forced: boolean }> | undefined;
  return {
    port: listener.address.port,
    host: listener.address.host,
    config,
    health,
    store,
    ledger,
    shutdown(graceMs = server.shutdownGraceMs) {
      stopping ??= drain({
        logger,
        graceMs,
        health,
        listener,
        inFlight: () => active,
        onIdle: (wake: () => void) => idleWaiters.push(wake),
        force: () => forceSignal.abort(),
        release: async () => {
          healthChecks.stop();
          overload.stop();
          await config.close();
          // Flush the ledger before the store closes; if the store is down, the journal keeps the records.
          await Promise.race([ledger.close(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
          await limits.close();
          await cache.close();
          externalGuards.close();
          await store.close();
        },
      });
      return stopping;
    },
  };
}

export type { CompiledConfig };

/** The config's store section as the store layer takes it (optional fields only when set). */
function storeConfigOf(store: LoadedConfig["config"]["store"]): StoreConfig {
  if (store.type !== "postgres") return store;
  return {
    type: "postgres",
    url: store.url,
    ...(store.schema !== undefined ? { schema: store.schema } : {}),
    ...(store.poolSize !== undefined ? { poolSize: store.poolSize } : {}),
  };
}

function limitStoreConfigOf(store: LoadedConfig["config"]["limits"]["store"]): LimitStoresConfig {
  return store;
}
