// Types for scripts/chromium.mjs, which the example test (TypeScript) imports.

export interface WindowSize {
  width?: number;
  height?: number;
  timeoutMs?: number;
}

/** The Chromium binary, installing Debian's `chromium` package when there is none. */
export function ensureChromium(options?: { log?: (message: string) => void }): Promise<string>;
/** The DOM after the page's scripts ran. */
export function dumpDom(binary: string, url: string, size?: WindowSize): Promise<string>;
/** Writes a PNG of the page's viewport to `file`. */
export function screenshot(binary: string, url: string, file: string, size?: WindowSize): Promise<void>;
