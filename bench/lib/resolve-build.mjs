// Resolve hook (module.register, see use-build.mjs): the package name resolves as a self-reference
// from the build directory's package.json, so its "exports" map picks the entry, exactly as an
// application importing the published package would get it.
import { pathToFileURL } from 'node:url';

const NAME = 'agentops-propagation';
let scope;

export function initialize({ dir }) {
  scope = pathToFileURL(`${dir.replace(/\/+$/, '')}/package.json`).href;
}

export function resolve(specifier, context, nextResolve) {
  if (specifier === NAME || specifier.startsWith(`${NAME}/`)) return nextResolve(specifier, { ...context, parentURL: scope });
  return nextResolve(specifier, context);
}
