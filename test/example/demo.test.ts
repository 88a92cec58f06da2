import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run demo (the main job)', () => {
  it('runs four services and prints whole session trees, exiting 0', () => {
    // The demo is a user-facing command: run it exactly as a user would, in its own process.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/agents/demo.ts'], {
      cwd: root,
      env: { ...process.env, DEMO_SESSIONS: '4' },
      encoding: 'utf8',
      timeout: 240_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).toBe(0);
    const trees = output.match(/^session [0-9a-f]{32}: \d+ spans \(gateway \d+, planner \d+, researcher \d+, writer \d+\)$/gm) ?? [];
    expect(trees, output).toHaveLength(4);
    expect(output.match(/✓ every span landed in the session trace/g) ?? []).toHaveLength(4);
    expect(output).toContain('✓ 4 sessions whole across 4 services');
    expect(output).toMatch(/\[Kafka\] process agentops-demo\.research-tasks/);
    expect(output).toMatch(/\[BullMQ\] process agentops-demo-writer/);
    expect(output).toMatch(/\[HTTP\] POST \/reports/);
  }, 300_000);

  it('fails with a non-zero exit and says what is wrong when a session breaks', () => {
    // DEMO_BREAK_HOP makes the writer drop the session on its callback: the check must catch it.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/agents/demo.ts'], {
      cwd: root,
      env: { ...process.env, DEMO_SESSIONS: '1', DEMO_BREAK_HOP: 'writer-callback' },
      encoding: 'utf8',
      timeout: 240_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).not.toBe(0);
  }, 300_000);
});
