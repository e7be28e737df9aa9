#!/usr/bin/env bash
# Fails if anything that configures a build outside fuzz/ sets cfg(fuzzing),
# which turns off MAC checks: cargo config files, build scripts, packaging,
# or the environment this script runs in. The tessel binary itself refuses
# to compile with it (compile_error! in overlay/src/bin/tessel/main.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for var in RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_ENCODED_RUSTFLAGS RUSTDOCFLAGS; do
    if [[ "${!var:-}" == *fuzzing* ]]; then
        echo "error: \$$var sets cfg(fuzzing): ${!var}" >&2
        status=1
    fi
done
while IFS= read -r file; do
    if grep -nE 'cfg[[:space:]"=]*fuzzing|rustc-cfg=fuzzing' "$file" >&2; then
        echo "error: $file sets cfg(fuzzing) outside fuzz/" >&2
        status=1
    fi
done < <(git ls-files -- '.cargo/*' '*/.cargo/*' 'build.rs' '*/build.rs' 'packaging/*' 'scripts/*' 'bench/*' \
    | grep -v '^scripts/check-no-fuzzing-cfg.sh$' || true)
if [ "$status" = 0 ]; then
    echo "no release build sets cfg(fuzzing)"
fi
exit $status
