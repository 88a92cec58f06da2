/** Throws the library's configuration error: a TypeError at setup time that names the option. */
export function configError(where: string, problem: string): never {
  throw new TypeError(`agentops-propagation: ${where} ${problem}`);
}
