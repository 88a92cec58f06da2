#!/usr/bin/env node
// The release check CI runs (`npm run pack:check`): pack the package as `npm publish` would (the
// `prepack` script builds dist/), check the tarball's file list, install the tarball into scratch
// projects under a temp dir as a newcomer would (from the registry for the peers), import every
// entry from ESM and CommonJS, type-check a small file per TypeScript resolution mode (node10,
// node16 ESM and CJS, bundler, and legacy experimentalDecorators), run `@arethetypeswrong/cli` on
// the tarball, then the README test: every ```ts block of README.md type-checked against the
// installed package and run (scripts/lib/readme-snippets.mjs). Prints the tarball size and the
// installed size with dependencies. `--keep` leaves the temp dir for a look.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkReadmeSnippets, tsBlocks } from './lib/readme-snippets.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'agentops-pack-check-'));
const started = Date.now();
const failures = [];

function step(name) {
  console.log(`\n--- ${name} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
function fail(message) {
  failures.push(message);
  console.error(`FAIL ${message}`);
}
// `npm run pack:check` hands this script the repository's npm settings as npm_config_* variables
// (its .npmrc sets legacy-peer-deps for the test dependencies). A user's project has none of them,
// and with legacy-peer-deps npm neither installs nor respects peer ranges: drop them, so every
// scratch install below resolves as a user's would. npm in the repository still reads its .npmrc.
for (const name of Object.keys(process.env)) if (name.toLowerCase().startsWith('npm_config_')) delete process.env[name];

function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...options });
}
/** Runs and reports a failure (with its output) instead of throwing. */
function check(what, cmd, args, options) {
  try {
    return run(cmd, args, options);
  } catch (err) {
    fail(`${what}:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    return undefined;
  }
}
/** Version of a package installed in the repository, so the scratch project tests what CI tests. */
function repoVersion(name, alias = name) {
  return JSON.parse(readFileSync(path.join(root, 'node_modules', alias, 'package.json'), 'utf8')).version;
}
const kB = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

try {
  // 1. Pack from the checkout: prepack builds, so a clean checkout ships dist/.
  step('npm pack');
  // prepack's build logs to stdout too; the JSON report is the part from the line that is `[`.
  const packOutput = run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const [packed] = JSON.parse(packOutput.slice(packOutput.search(/^\[$/m)));
  if (!packed.files.some((f) => f.path.startsWith('dist/'))) fail('the tarball has no dist/: prepack did not build');
  const tarball = path.join(tmp, packed.filename);
  const files = packed.files.map((f) => f.path).sort();
  console.log(`${packed.filename}: ${kB(packed.size)} packed, ${kB(packed.unpackedSize)} unpacked, ${files.length} files`);

  // 2. The file list: exactly the build, the README, LICENSE, CHANGELOG and package.json.
  step('tarball file list');
  const allowed = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|dist\/[\w.-]+\.(js|cjs|d\.ts|d\.cts|js\.map|cjs\.map))$/;
  for (const f of files) if (!allowed.test(f)) fail(`unexpected file in the tarball: ${f}`);
  for (const f of ['package.json', 'README.md', 'LICENSE']) if (!files.includes(f)) fail(`missing from the tarball: ${f}`);
  const referenced = new Set([pkg.main, pkg.module, pkg.types]);
  for (const entry of Object.values(pkg.exports)) {
    if (typeof entry === 'string') continue;
    for (const cond of Object.values(entry)) for (const target of Object.values(cond)) referenced.add(target);
  }
  for (const targets of Object.values(pkg.typesVersions?.['*'] ?? {})) for (const t of targets) referenced.add(t);
  for (const ref of referenced) if (!files.includes(path.posix.normalize(ref))) fail(`package.json points at ${ref}, not in the tarball`);
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json' && k !== '.');
  for (const sub of subpaths) {
    if (!pkg.typesVersions?.['*']?.[sub.slice(2)]) fail(`typesVersions has no entry for ${sub} (node10 resolution)`);
  }
  const unpacked = path.join(tmp, 'unpacked');
  mkdirSync(unpacked);
  run('tar', ['-xzf', tarball, '-C', unpacked]);
  for (const f of files) {
    const text = readFileSync(path.join(unpacked, 'package', f), 'utf8');
    if (text.includes(root) || /"(file|sourceRoot)":"\//.test(text) || /"sources":\[[^\]]*"\//.test(text)) {
      fail(`${f} contains a machine path (${root} or an absolute source-map path)`);
    }
  }
  const license = readFileSync(path.join(unpacked, 'package', 'LICENSE'), 'utf8');
  if (!license.includes('Apache License') || !license.includes('Version 2.0, January 2004')) fail('LICENSE is not the Apache 2.0 text');
  console.log(`${files.length} files, every export target present, no machine paths`);

  // 3. Installed size with dependencies: the tarball alone in an empty project (npm adds the
  //    required peer @opentelemetry/api), as `npm install agentops-propagation` would.
  step('installed size');
  const sizeDir = path.join(tmp, 'size');
  mkdirSync(sizeDir);
  writeFileSync(path.join(sizeDir, 'package.json'), '{ "name": "size", "private": true }\n');
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', tarball, '@opentelemetry/api'], {
    cwd: sizeDir,
  });
  const installedKb = Number(run('du', ['-sk', 'node_modules'], { cwd: sizeDir }).split('\t')[0]);
  const ls = JSON.parse(run('npm', ['ls', '--all', '--json'], { cwd: sizeDir }));
  const names = new Set();
  const coreCopies = new Set();
  (function walk(deps) {
    for (const [name, d] of Object.entries(deps ?? {})) {
      names.add(name);
      if (name === '@opentelemetry/core') coreCopies.add(d.version);
      walk(d.dependencies);
    }
  })(ls.dependencies);
  const corePaths = run('find', ['node_modules', '-path', '*/@opentelemetry/core/package.json'], { cwd: sizeDir }).trim().split('\n');
  console.log(
    `installed with dependencies: ${(installedKb / 1024).toFixed(1)} MB (du -sk), ${names.size} packages; ` +
      `@opentelemetry/core copies: ${corePaths.length} (${[...coreCopies].join(', ')})`,
  );
  if (corePaths.length !== 1) fail(`@opentelemetry/core installed ${corePaths.length} times: ${corePaths.join(', ')}`);
  for (const optional of ['express', 'fastify', 'kafkajs', 'bullmq', 'fastify-plugin']) {
    if (existsSync(path.join(sizeDir, 'node_modules', optional))) fail(`${optional} is installed for a user who did not ask for it`);
  }

  // 4. The scratch project: the tarball with every peer, as the README tells a newcomer.
  step('scratch project: npm install');
  const app = path.join(tmp, 'app');
  mkdirSync(path.join(app, 'cjs'), { recursive: true });
  writeFileSync(path.join(app, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
  writeFileSync(path.join(app, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
  const peers = [
    `@opentelemetry/api@${repoVersion('@opentelemetry/api')}`,
    `express@${repoVersion('express')}`,
    `@types/express@${repoVersion('@types/express')}`,
    `fastify@${repoVersion('fastify')}`,
    `kafkajs@${repoVersion('kafkajs')}`,
    // `npm install bullmq` gives BullMQ 6, which needs ioredis beside it (the README says so).
    `bullmq@${repoVersion('bullmq', 'bullmq6')}`,
    `ioredis@${repoVersion('ioredis')}`,
    // The README's "beside your own TracerProvider" snippet tells the reader to install it.
    `@opentelemetry/sdk-trace-node@${repoVersion('@opentelemetry/sdk-trace-node')}`,
    `typescript@${repoVersion('typescript')}`,
    `@types/node@${repoVersion('@types/node')}`,
  ];
  // Whatever a README block's `// npm install ...` line names, at the repository's version when it has one.
  for (const { code } of tsBlocks(readFileSync(path.join(root, 'README.md'), 'utf8'))) {
    for (const [, list] of code.matchAll(/^\/\/ npm install (.+)$/gm)) {
      for (const name of list.trim().split(/\s+/)) {
        if (name === pkg.name || name.startsWith('-') || peers.some((p) => p.startsWith(`${name}@`))) continue;
        peers.push(existsSync(path.join(root, 'node_modules', name, 'package.json')) ? `${name}@${repoVersion(name)}` : name);
      }
    }
  }
  console.log(`npm install ${path.basename(tarball)} ${peers.join(' ')}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', tarball, ...peers], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'inherit'],
  });

  // 5. Every entry imports from ESM and requires from CommonJS, with its entry points.
  step('import every subpath from ESM and CommonJS');
  const expected = {
    '.': ['init', 'startSession', 'withSession', 'getSessionId', 'agent', 'tool', 'SessionSpanProcessor'],
    './hop': ['startInboundHop', 'startOutboundHop'],
    './express': ['sessionMiddleware', 'sessionErrorHandler'],
    './fastify': ['sessionPlugin'],
    './http': ['sessionFetch', 'injectSessionHeaders'],
    './kafkajs': ['instrumentProducer', 'instrumentConsumer', 'withMessageContext'],
    './bullmq': ['sessionTelemetry', 'instrumentFlowProducer'],
  };
  for (const sub of Object.keys(pkg.exports)) if (sub !== './package.json' && !expected[sub]) fail(`no import check for ${sub}`);
  const spec = (sub) => (sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`);
  const probe = (load) =>
    `const want = ${JSON.stringify(expected)};\n` +
    `for (const [sub, names] of Object.entries(want)) {\n` +
    `  const m = ${load};\n` +
    `  for (const n of names) if (typeof m[n] !== 'function') throw new Error(sub + ': ' + n + ' is ' + typeof m[n]);\n` +
    `}\nconsole.log('ok');\n`;
  const specOf = `(sub === '.' ? ${JSON.stringify(pkg.name)} : ${JSON.stringify(pkg.name + '/')} + sub.slice(2))`;
  writeFileSync(path.join(app, 'imports.mjs'), probe(`await import(${specOf})`));
  writeFileSync(path.join(app, 'cjs', 'imports.cjs'), probe(`require(${specOf})`));
  if (check('ESM import of every subpath', 'node', ['imports.mjs'], { cwd: app })?.trim() === 'ok') console.log('import from ESM: ok');
  if (check('CommonJS require of every subpath', 'node', ['cjs/imports.cjs'], { cwd: app })?.trim() === 'ok')
    console.log('require from CommonJS: ok');

  // 6. Types per resolution mode. Each file must also reject a misuse (@ts-expect-error), so a
  //    module that resolved to `any` fails the check instead of passing it.
  step('TypeScript: node10, node16 (ESM and CJS), bundler, experimentalDecorators');
  const importLines = [
    `import { init, startSession, withSession, getSessionId, agent, type InitOptions } from '${spec('.')}';`,
    `import { startOutboundHop } from '${spec('./hop')}';`,
    `import { sessionMiddleware } from '${spec('./express')}';`,
    `import { sessionPlugin } from '${spec('./fastify')}';`,
    `import { sessionFetch } from '${spec('./http')}';`,
    `import { instrumentProducer } from '${spec('./kafkajs')}';`,
    `import { sessionTelemetry } from '${spec('./bullmq')}';`,
  ];
  const body = [
    `const options: InitOptions = { serviceName: 'scratch' };`,
    `export const used = [init, options, startSession, withSession, agent, startOutboundHop, sessionMiddleware, sessionPlugin, sessionFetch, instrumentProducer, sessionTelemetry];`,
    `export const id: string | undefined = getSessionId();`,
    `// @ts-expect-error a name is a string`,
    `startSession({ name: 42 });`,
    `// @ts-expect-error a span name is required`,
    `startOutboundHop({});`,
    `// @ts-expect-error not a fetch`,
    `sessionFetch(42);`,
    `// @ts-expect-error not a producer`,
    `instrumentProducer(42);`,
    `// @ts-expect-error not options`,
    `sessionTelemetry(42);`,
    `// @ts-expect-error not options`,
    `sessionMiddleware(42);`,
    `export const plugin: (...args: never[]) => unknown = sessionPlugin;`,
  ];
  const decoratorFile = [
    `import { agent, tool } from '${spec('.')}';`,
    `export class Researcher {`,
    `  @agent('researcher') async run(q: string): Promise<string> { return this.search(q); }`,
    `  @tool() async search(q: string): Promise<string> { return q; }`,
    `}`,
  ];
  const typesDir = path.join(app, 'types');
  mkdirSync(typesDir);
  writeFileSync(path.join(typesDir, 'esm.mts'), [...importLines, ...body].join('\n') + '\n');
  writeFileSync(path.join(typesDir, 'cjs.cts'), [...importLines, ...body].join('\n') + '\n');
  writeFileSync(path.join(typesDir, 'bundler.ts'), [...importLines, ...body].join('\n') + '\n');
  writeFileSync(path.join(app, 'cjs', 'node10.ts'), [...importLines, ...body].join('\n') + '\n');
  writeFileSync(path.join(typesDir, 'standard-decorators.mts'), decoratorFile.join('\n') + '\n');
  writeFileSync(path.join(typesDir, 'legacy-decorators.mts'), decoratorFile.join('\n') + '\n');
  const base = { strict: true, noEmit: true, target: 'ES2022', lib: ['ES2022', 'DOM'], types: ['node'], skipLibCheck: true };
  const modes = {
    'node16 (ESM .mts, CJS .cts)': {
      compilerOptions: { module: 'node16', moduleResolution: 'node16' },
      files: ['types/esm.mts', 'types/cjs.cts'],
    },
    bundler: { compilerOptions: { module: 'esnext', moduleResolution: 'bundler' }, files: ['types/bundler.ts'] },
    node10: { compilerOptions: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true }, files: ['cjs/node10.ts'] },
    'standard decorators': {
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' },
      files: ['types/standard-decorators.mts'],
    },
    'experimentalDecorators: true': {
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', experimentalDecorators: true },
      files: ['types/legacy-decorators.mts'],
    },
  };
  const tsc = path.join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const [mode, config] of Object.entries(modes)) {
    const file = `tsconfig.${mode.replace(/\W+/g, '-')}.json`;
    writeFileSync(path.join(app, file), JSON.stringify({ ...config, compilerOptions: { ...base, ...config.compilerOptions } }, null, 2));
    if (check(`tsc (${mode})`, 'node', [tsc, '-p', file], { cwd: app }) !== undefined) console.log(`${mode}: ok`);
  }

  // 7. Are the types wrong? node10, node16 (from CJS and from ESM), bundler.
  step('@arethetypeswrong/cli');
  const require = createRequire(import.meta.url);
  const attwPkgPath = require.resolve('@arethetypeswrong/cli/package.json');
  const attwBin = JSON.parse(readFileSync(attwPkgPath, 'utf8')).bin;
  const attw = path.join(path.dirname(attwPkgPath), typeof attwBin === 'string' ? attwBin : attwBin.attw);
  let report;
  try {
    report = JSON.parse(run('node', [attw, tarball, '--format', 'json'], { cwd: root }));
  } catch (err) {
    report = JSON.parse(err.stdout);
  }
  const problems = report.analysis?.problems ?? [];
  const perMode = {};
  for (const [subpath, entry] of Object.entries(report.analysis.entrypoints)) {
    if (subpath === './package.json') continue;
    for (const [kind, r] of Object.entries(entry.resolutions)) {
      perMode[kind] ??= { resolved: 0, entries: 0 };
      perMode[kind].entries++;
      if (r.resolution?.isTypeScript) perMode[kind].resolved++;
    }
  }
  for (const [kind, { resolved, entries }] of Object.entries(perMode)) {
    const mine = problems.filter((p) => p.resolutionKind === kind);
    console.log(`${kind}: ${resolved}/${entries} entries typed, ${mine.length} problems`);
    if (resolved !== entries) fail(`attw ${kind}: ${entries - resolved} entries without types`);
  }
  for (const p of problems) fail(`attw: ${JSON.stringify(p)}`);
  for (const kind of ['node10', 'node16-cjs', 'node16-esm', 'bundler']) if (!perMode[kind]) fail(`attw did not check ${kind}`);

  // 8. The README: every ```ts block type-checked against the installed package and run.
  step('README snippets');
  await checkReadmeSnippets({ readme: path.join(root, 'README.md'), app, tsc, fail, run });

  console.log(
    `\n${failures.length === 0 ? 'pack check passed' : `pack check FAILED (${failures.length})`} in ${((Date.now() - started) / 1000).toFixed(0)} s; ` +
      `tarball ${kB(packed.size)}, installed with dependencies ${(installedKb / 1024).toFixed(1)} MB`,
  );
} catch (err) {
  fail(`${err.stack ?? err}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
} finally {
  if (keep) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
if (failures.length > 0) process.exit(1);
