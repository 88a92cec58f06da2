/** The child side of the IPC protocol in child.ts. */

/** A command handler: gets the command's arguments, returns its result. */
export type Handler = (args: Record<string, unknown>) => unknown;

/** Reports ready with `info`, then answers commands until `exit` (running `cleanup` first). */
export function serve(handlers: Record<string, Handler>, info: unknown = {}, cleanup?: () => Promise<void> | void): void {
  if (typeof process.send !== 'function') throw new Error('bench child started without an IPC channel');
  const send = (msg: unknown) => process.send?.(msg);
  process.on('message', (raw) => {
    const { id, cmd, args } = raw as { id: number; cmd: string; args: Record<string, unknown> };
    if (cmd === 'exit') {
      void Promise.resolve(cleanup?.())
        .catch(() => undefined)
        .finally(() => process.exit(0));
      return;
    }
    const handler = handlers[cmd];
    if (handler === undefined) {
      send({ id, ok: false, error: `unknown command ${cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(args))
      .then(
        (result) => send({ id, ok: true, result }),
        (err: unknown) => send({ id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // The parent going away must not leave a server pinned to a core.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', info });
}

/** Reports a setup failure to the parent and exits. */
export function fatal(err: unknown): never {
  process.send?.({ type: 'fatal', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}
