/**
 * `agentops-propagation/fastify`: the Fastify 4 and 5 plugin that runs each request's inbound
 * hop, with per-route trust and shape in the route's `config.agentops`.
 */
export { sessionPlugin, type SessionPluginOptions, type SessionRouteConfig } from './plugin.js';
