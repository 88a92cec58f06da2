/**
 * The resource of init's provider, as an OpenTelemetry user expects it: the SDK's defaults
 * (`telemetry.sdk.*`), the host and process detectors, then `OTEL_RESOURCE_ATTRIBUTES` and
 * `OTEL_SERVICE_NAME`, then the options; each later source wins.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
  type Resource,
  type ResourceDetector,
} from '@opentelemetry/resources';

/** Left out: the command line can carry secrets (`--api-key=...`) and would go to every backend. */
const OMITTED = ['process.command_args'];

const processWithoutArgs: ResourceDetector = {
  detect(config) {
    const found = processDetector.detect(config);
    const attributes = { ...found.attributes };
    for (const key of OMITTED) delete attributes[key];
    return { ...found, attributes };
  },
};

export function buildResource(serviceName: string | undefined, extra: Attributes | undefined): Resource {
  // envDetector after the others, so the deployment's OTEL_RESOURCE_ATTRIBUTES win over detection.
  let resource = defaultResource().merge(detectResources({ detectors: [hostDetector, processWithoutArgs, envDetector] }));
  if (extra !== undefined) resource = resource.merge(resourceFromAttributes(extra));
  if (serviceName !== undefined) resource = resource.merge(resourceFromAttributes({ 'service.name': serviceName }));
  return resource;
}
