/**
 * The builds under test. Each is a tree of this repository (the working tree, or an older git
 * ref checked out in a worktree) compiled with its own tsup.config.ts, ESM only, into a private
 * directory with a copy of the tree's package.json beside dist/. Children load the library by
 * package name; bench/lib/use-build.mjs resolves that name inside the chosen build directory.
 *
 * Private directories, not ./dist: a test run rebuilds dist/ (pretest) and would swap the code
 * under a running bench. Built with tsup, not run through tsx: tsx would add esbuild's keepNames
 * helper to every closure a request creates.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Under node_modules, so that a build resolves its dependencies from this repository's node_modules. */
const CACHE = join(ROOT, 'node_modules/.cache/agentops-bench');
const TSUP = createRequire(import.meta.url).resolve('tsup');

/** A build the children can load. */
export interface Build {
  /** Directory holding package.json and dist/. */
  dir: string;
  /** For labels: `working tree (HEAD <short sha>, ...)` or `<ref> (<short sha>)`. */
  name: string;
}

/** Compiles the tree at `root` into `dir` with the tree's own tsup config (entries and externals). */
function compile(root: string, dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  // tsup reads its config from the working directory, so it runs in a child with cwd = root. The
  // config's onSuccess step post-processes its own dist/ (source maps), not this directory.
  const script = `const { build } = require(${JSON.stringify(TSUP)});
build({ outDir: ${JSON.stringify(join(dir, 'dist'))}, format: ['esm'], dts: false, sourcemap: false, clean: true, silent: true, onSuccess: undefined })
  .catch((err) => { console.error(err); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsup in ${root} exited with code ${code}`))));
  });
}

/** `git <args>` in this repository, its output trimmed. */
function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Paths whose changes alter the library under test (results and docs do not). */
const LIBRARY_PATHS = ['src', 'adapters', 'package.json', 'tsup.config.ts'];

/** The working tree, built afresh; named by its commit, so that a result says which code it measured. */
export async function buildWorkingTree(): Promise<Build> {
  const dir = join(CACHE, 'current');
  await compile(ROOT, dir);
  return { dir, name: `working tree (${workingTreeState()})` };
}

function workingTreeState(): string {
  try {
    const head = git('rev-parse', '--short=9', 'HEAD');
    const changed = git('status', '--porcelain', '--', ...LIBRARY_PATHS).length > 0;
    return `HEAD ${head}, ${changed ? 'with uncommitted library changes' : 'library code as committed'}`;
  } catch {
    return 'not a git checkout';
  }
}

/**
 * A commit (a baseline, or --ref): checked out (detached) in a worktree under the system temp directory, with this
 * repository's node_modules linked in, and built once per commit (kept in the cache after).
 */
export async function buildRef(ref: string, log: (message: string) => void): Promise<Build> {
  const sha = git('rev-parse', '--verify', `${ref}^{commit}`);
  const short = sha.slice(0, 9);
  const dir = join(CACHE, `commit-${short}`);
  const build = { dir, name: `${ref} (${short})` };
  if (existsSync(join(dir, 'dist/index.js'))) return build;
  const tree = join(tmpdir(), `agentops-bench-${short}`);
  if (!existsSync(join(tree, 'package.json'))) {
    rmSync(tree, { recursive: true, force: true });
    git('worktree', 'prune');
    git('worktree', 'add', '--detach', tree, sha);
  }
  if (!existsSync(join(tree, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  log(`building ${build.name} from ${tree}`);
  await compile(tree, dir);
  return build;
}
