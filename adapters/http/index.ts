/**
 * `agentops-propagation/http`: outgoing HTTP. `sessionFetch` wraps a fetch, `injectSessionHeaders`
 * serves any other client; both apply the target policy to every destination.
 */
export { sessionFetch } from './fetch.js';
export { injectSessionHeaders } from './inject.js';
export type { FetchFunction, InjectSessionHeadersOptions, OutboundHttpOptions, SessionFetchOptions } from './options.js';
export { createTargetPolicy, type TargetMatcher, type TargetPolicy, type TargetPolicyOptions } from '../../src/http/targets.js';
export type { HttpHeaders } from '../../src/carriers/http.js';
/**
 * @deprecated Since 0.2.0 the address classifiers are part of the hop engine:
 * import them from `agentops-propagation/hop`. These aliases are removed in 0.3.0.
 */
export { classifyAddress, isClusterLocalHostname, isInternalAddress, isInternalHost, type AddressClass } from '../../src/http/network.js';
