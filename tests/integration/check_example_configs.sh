#!/usr/bin/env bash
# Runs `--check-config` on every config under conf/examples/ with the program it is for, and fails
# naming each file that does not pass. Naming rule (conf/examples/README.md): a file whose name
# starts with "capture" is mpegcast-capture's, every other *.conf is mpegcast-relay's. Also checks
# that each topology folder has a README.md and each file says which box it goes on ("# Box:").
# usage: check_example_configs.sh RELAY_BIN CAPTURE_BIN EXAMPLES_DIR
set -uo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 RELAY_BIN CAPTURE_BIN EXAMPLES_DIR" >&2
  exit 2
fi
relay=$1 capture=$2 dir=$3
failed=() checked=0

for topology in "$dir"/*/; do
  [[ -f "$topology/README.md" ]] || failed+=("${topology%/}: no README.md")
done

while IFS= read -r -d '' file; do
  case "$(basename "$file")" in
    capture*) program=$capture ;;
    *) program=$relay ;;
  esac
  checked=$((checked + 1))
  if out=$("$program" -c "$file" --check-config 2>&1); then
    echo "ok    $(basename "$program") -c $file"
  else
    echo "FAIL  $(basename "$program") -c $file: $out"
    failed+=("$file: $(basename "$program") --check-config: $out")
  fi
  grep -q '^# Box: ' "$file" || failed+=("$file: no '# Box:' line saying where it goes")
done < <(find "$dir" -name '*.conf' -print0 | sort -z)

if ((checked == 0)); then
  echo "no *.conf under $dir" >&2
  exit 1
fi
if ((${#failed[@]})); then
  printf '%s\n' "${#failed[@]} problem(s) in conf/examples:" "${failed[@]}" >&2
  exit 1
fi
echo "all $checked example configs pass --check-config"
