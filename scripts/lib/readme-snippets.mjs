// The README test of scripts/pack-check.mjs: every ```ts block of README.md is a complete program.
// Each is written as its own ES module into the scratch project (which has the packed package and
// the peers installed), type-checked and compiled with that project's tsc, as a reader would, and
// run:
// - a block that imports agentops-propagation/express or /fastify is an HTTP service: it is
//   started with PORT (and CRITIC_URL, a local stand-in for the next service), sent one
//   `POST /plan` carrying a session, and must answer with that session's id (and, when it calls
//   CRITIC_URL, forward the session there); then it is stopped;
// - a block that imports kafkajs or bullmq needs a broker or Redis: type-checked only;
// - any other block runs to completion and must exit 0.
// A block's `// npm install ...` line is what the reader installs: scripts/pack-check.mjs installs
// those packages into the scratch project too.
// Blocks with decorators are compiled and run twice: standard decorators and
// `experimentalDecorators: true`. No run may print the "init() was not called" warning.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

/** The ```ts blocks of a Markdown file, with the line each starts on. */
export function tsBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') + '\n' });
    i = end;
  }
  return blocks;
}

function classify(code) {
  if (/from 'agentops-propagation\/(express|fastify)'/.test(code)) return 'http';
  if (/from '(kafkajs|bullmq)'/.test(code)) return 'types-only';
  return 'run';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts `node file`, collecting its output; `exited` settles with the exit code or signal. */
function start(file, cwd, env) {
  const child = spawn(process.execPath, [file], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function driveHttp(file, cwd, code) {
  const port = await freePort();
  const critic = { headers: undefined };
  const criticServer = http.createServer((req, res) => {
    critic.headers = req.headers;
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise((resolve) => criticServer.listen(0, '127.0.0.1', resolve));
  const criticUrl = `http://127.0.0.1:${criticServer.address().port}`;
  const proc = start(file, cwd, { PORT: String(port), CRITIC_URL: criticUrl });
  try {
    const sessionId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    const headers = {
      'content-type': 'application/json',
      traceparent: `00-${sessionId}-${spanId}-01`,
      baggage: `agentops.session.id=${sessionId};root=${spanId};flags=01`,
    };
    let response;
    const deadline = Date.now() + 20_000;
    while (response === undefined) {
      try {
        response = await fetch(`http://127.0.0.1:${port}/plan`, { method: 'POST', headers, body: '{"task":"otters"}' });
      } catch {
        if (Date.now() > deadline) throw new Error('the service never answered on PORT');
        if ((await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r(undefined), 200))])) !== undefined) {
          throw new Error('the service exited before answering');
        }
      }
    }
    const text = await response.text();
    if (response.status !== 200) throw new Error(`POST /plan answered ${response.status}: ${text}`);
    const answer = JSON.parse(text);
    if (answer.sessionId !== sessionId)
      throw new Error(`POST /plan answered sessionId ${answer.sessionId}, expected the caller's ${sessionId}`);
    let note = `answered with the caller's session`;
    if (code.includes('CRITIC_URL')) {
      const forwarded = critic.headers?.traceparent;
      if (typeof forwarded !== 'string' || forwarded.split('-')[1] !== sessionId) {
        throw new Error(`the call to CRITIC_URL carried traceparent ${forwarded}, not the session's trace`);
      }
      if (!String(critic.headers?.baggage).includes(`agentops.session.id=${sessionId}`)) {
        throw new Error(`the call to CRITIC_URL carried baggage ${critic.headers?.baggage}, without the session entry`);
      }
      note += ' and forwarded it to CRITIC_URL';
    }
    if (/before init\(\) was called/.test(proc.output())) throw new Error(`printed the init() warning:\n${proc.output()}`);
    return note;
  } finally {
    proc.child.kill('SIGTERM');
    await withTimeout(proc.exited, 10_000, 'stopping the service').catch(() => proc.child.kill('SIGKILL'));
    criticServer.close();
  }
}

async function runToEnd(file, cwd) {
  const proc = start(file, cwd, {});
  const { code, signal } = await withTimeout(proc.exited, 30_000, 'running').catch((err) => {
    proc.child.kill('SIGKILL');
    throw new Error(`${err.message}\n${proc.output()}`);
  });
  if (code !== 0) throw new Error(`exited with ${code ?? signal}:\n${proc.output()}`);
  if (/before init\(\) was called/.test(proc.output())) throw new Error(`printed the init() warning:\n${proc.output()}`);
  return 'ran to completion';
}

export async function checkReadmeSnippets({ readme, app, tsc, fail, run }) {
  const blocks = tsBlocks(readFileSync(readme, 'utf8'));
  if (blocks.length === 0) fail('README.md has no ```ts block');
  const dir = path.join(app, 'readme');
  mkdirSync(dir, { recursive: true });
  const snippets = blocks.map((block, i) => {
    const name = `line-${block.line}`;
    writeFileSync(path.join(dir, `${name}.ts`), block.code);
    return { ...block, name, kind: classify(block.code), decorators: /^\s*@\w+\(/m.test(block.code), index: i };
  });
  const compilerOptions = {
    strict: true,
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    types: ['node'],
    lib: ['ES2022', 'DOM'],
    skipLibCheck: true,
    rootDir: 'readme',
  };
  const builds = [
    { label: 'standard decorators', outDir: 'readme-out', extra: {}, files: snippets },
    {
      label: 'experimentalDecorators',
      outDir: 'readme-out-legacy',
      extra: { experimentalDecorators: true },
      files: snippets.filter((s) => s.decorators),
    },
  ];
  for (const build of builds) {
    if (build.files.length === 0) continue;
    const config = `tsconfig.readme-${build.outDir}.json`;
    writeFileSync(
      path.join(app, config),
      JSON.stringify({
        compilerOptions: { ...compilerOptions, ...build.extra, outDir: build.outDir },
        files: build.files.map((s) => `readme/${s.name}.ts`),
      }),
    );
    try {
      run('node', [tsc, '-p', config], { cwd: app });
      console.log(`tsc (${build.label}): ${build.files.length} README blocks type-check`);
    } catch (err) {
      fail(
        `README blocks do not type-check (${build.label}); file names are README.md line numbers:\n${err.stdout ?? ''}${err.stderr ?? ''}`,
      );
      build.failed = true;
    }
  }
  for (const build of builds) {
    if (build.failed) continue;
    for (const s of build.files) {
      const where = `README.md line ${s.line}${build.extra.experimentalDecorators ? ' (experimentalDecorators)' : ''}`;
      if (s.kind === 'types-only') {
        if (build.outDir === 'readme-out') console.log(`${where}: type-checked (needs a broker or Redis to run)`);
        continue;
      }
      const file = path.join(build.outDir, `${s.name}.js`);
      try {
        const note = s.kind === 'http' ? await driveHttp(file, app, s.code) : await runToEnd(file, app);
        console.log(`${where}: type-checked, ${note}`);
      } catch (err) {
        fail(`${where}: ${err.message}`);
      }
    }
  }
}
