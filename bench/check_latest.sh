#!/usr/bin/env bash
# Run the test suite against the NEWEST releases that pyproject.toml's ranges allow, in a
# scratch virtualenv, ignoring requirements-lock.txt. The lock keeps everyone on tested versions;
# this finds the next upstream break (as pytest 9.2 broke schemathesis' plugin) before a user
# who installs webscan into their own environment does. Run it before refreshing the lock
# (`make lock`), and monthly. Usage: bash bench/check_latest.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d -t webscan-latest-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
py="$scratch/venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip
# --upgrade-strategy eager: every dependency, direct or not, at the newest allowed version.
"$py" -m pip install --quiet --disable-pip-version-check --upgrade --upgrade-strategy eager \
  --no-cache-dir '.[test,fuzz]'
echo "newest allowed versions that differ from the lock:"
"$py" -m pip list --format=freeze --disable-pip-version-check | while IFS='=' read -r name _ version; do
  # every version the lock pins for this name (one per environment marker)
  locked=$(grep -iE "^${name//[-_.]/[-_.]}==" requirements-lock.txt | sed -E 's/^[^=]+==([^ ;]+).*/\1/' | tr '\n' ' ' || true)
  case " $locked" in
    " ") ;;                       # not in the lock (pip itself)
    *" $version "*) ;;            # the locked version
    *) echo "  $name ${locked% } -> $version" ;;
  esac
done
"$py" -m pytest -q "$@"
