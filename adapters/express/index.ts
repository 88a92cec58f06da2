/**
 * `agentops-propagation/express`: the Express 4 and 5 middleware that runs each request's inbound
 * hop, and its optional error-recording companion.
 */
export {
  sessionErrorHandler,
  sessionMiddleware,
  type NextCallback,
  type SessionErrorHandler,
  type SessionMiddleware,
  type SessionMiddlewareOptions,
} from './middleware.js';
