/**
 * The HTTP target policy applied to every outgoing node:http/https, undici and fetch request,
 * whoever makes it (stock instrumentation, axios, user code), where the destination is known:
 * in the client, not in the propagator (which instrumentations call with a bare header object).
 * `init` installs it and its shutdown uninstalls it.
 */
import { installHttpClientGuard } from './client-guard.js';
import { decider } from './guarded-headers.js';
import { createTargetPolicy, type TargetMatcher, type TargetPolicyOptions } from './targets.js';
import { installUndiciGuard } from './undici-guard.js';

function pathMatters(m: TargetMatcher): boolean {
  if (typeof m === 'string') return new URL(m).pathname !== '/';
  if (m instanceof URL) return m.pathname !== '/';
  return true; // a RegExp or a function may look at the path
}

/** Whether any allowlist entry can depend on the path (then decisions are cached by origin + path). */
function hasPathTargets(options: TargetPolicyOptions): boolean {
  return [options.targets, options.traceparentTargets, options.baggageTargets].some((list) => (list ?? []).some(pathMatters));
}

/**
 * Validates `options` (TypeError naming the option) and installs both guards; returns the
 * uninstall function.
 */
export function installOutboundGuards(options: TargetPolicyOptions): () => void {
  const policy = createTargetPolicy(options);
  const decide = decider(policy, hasPathTargets(options));
  const uninstallHttp = installHttpClientGuard(decide);
  const uninstallUndici = installUndiciGuard(decide);
  return () => {
    uninstallHttp();
    uninstallUndici();
  };
}
