// Loaded with `--import` in every child: resolves the package's own name ('agentops-propagation'
// and its subpaths) inside the build directory named by AGENTOPS_BENCH_BUILD (bench/lib/build.ts),
// so that one child can run the working tree and the next an older commit, with the same code.
import { register } from 'node:module';

const dir = process.env.AGENTOPS_BENCH_BUILD;
if (!dir) throw new Error('AGENTOPS_BENCH_BUILD is not set: bench children are started by bench/run.ts');
register('./resolve-build.mjs', import.meta.url, { data: { dir } });
