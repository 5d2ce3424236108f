import { metrics, propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import type { Config } from "../config/schema.ts";

export type TelemetrySdk = {
  /** Serves /metrics; undefined when metrics are disabled. */
  prometheus: PrometheusExporter | undefined;
  shutdown(): Promise<void>;
};

/**
 * Wires the OpenTelemetry SDK once at start-up; everything else in src/ uses
 * only @opentelemetry/api. Traces are exported over OTLP/HTTP when the config
 * enables them or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 * is set (the exporter reads the standard OTEL_* variables itself).
 */
export function setupTelemetry(config: Config["telemetry"], env: NodeJS.ProcessEnv): TelemetrySdk {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const resource = resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME ?? "switchyard" });

  let prometheus: PrometheusExporter | undefined;
  let meterProvider: MeterProvider | undefined;
  if (config.metrics.enabled) {
    prometheus = new PrometheusExporter({ preventServerStart: true });
    meterProvider = new MeterProvider({ resource, readers: [prometheus] });
    metrics.setGlobalMeterProvider(meterProvider);
  }

  let tracerProvider: BasicTracerProvider | undefined;
  const fromEnv = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (config.tracing.enabled || fromEnv) {
    const exporter = new OTLPTraceExporter(config.tracing.endpoint ? { url: config.tracing.endpoint } : {});
    tracerProvider = new BasicTracerProvider({
      resource,
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.tracing.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    trace.setGlobalTracerProvider(tracerProvider);
  }

  return {
    prometheus,
    async shutdown() {
      await Promise.allSettled([tracerProvider?.shutdown(), meterProvider?.shutdown()]);
    },
  };
}
